import { BUS_FAULTS, type Entry, type Nemesis, type Reconnect } from '../history.js';

/** A span during which one worker may have missed invalidations. */
export interface BlindSpan {
  start: number;
  end: number;
}

/**
 * For each worker, the spans during which it may have missed invalidations: from the start of
 * each Redis or bus fault to its end, or to the worker's first bus reconnection after the fault
 * started if that is later (within `reconnectWait` ms of the end): a process only replays what it
 * missed once it is connected again.
 */
export function blindSpans(
  entries: readonly Entry[],
  reconnectWait: number,
): (worker: number) => BlindSpan[] {
  const faults = entries.filter(
    (entry): entry is Nemesis => entry.type === 'nemesis' && BUS_FAULTS.includes(entry.kind),
  );
  const reconnects = new Map<number, number[]>();
  for (const entry of entries) {
    if (entry.type !== 'reconnect') continue;
    const { worker, at } = entry as Reconnect;
    reconnects.set(worker, [...(reconnects.get(worker) ?? []), at]);
  }
  const cache = new Map<number, BlindSpan[]>();
  return (worker) => {
    let spans = cache.get(worker);
    if (spans === undefined) {
      const times = (reconnects.get(worker) ?? []).sort((a, b) => a - b);
      spans = faults.map(({ start, end }) => {
        const back = times.find((at) => at >= start && at <= end + reconnectWait);
        return { start, end: Math.max(end, back ?? end) };
      });
      cache.set(worker, spans);
    }
    return spans;
  };
}

/** The span of `spans` that holds `at`, if any. */
export function spanAt(spans: readonly BlindSpan[], at: number): BlindSpan | undefined {
  return spans.find((span) => at >= span.start && at <= span.end);
}
