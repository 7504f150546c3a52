import {
  BUS_FAULTS,
  type Entry,
  type Link,
  type Nemesis,
  REDIS_FAULTS,
  type Reconnect,
} from '../history.js';

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

/**
 * For each worker, the spans during which its store was cut off from Redis by a Redis fault
 * (from a `link` down to the next up): a write made then cannot reach the other processes
 * before the worker is back. A span counts only while a Redis fault explains it, and until
 * `reconnectWait` ms after that fault ended at most, as for a reader (see {@link blindSpans}): a
 * store cut off with no fault, never back, or back late is what the check is there to catch.
 */
export function cutOffSpans(
  entries: readonly Entry[],
  reconnectWait = Number.POSITIVE_INFINITY,
): (worker: number) => BlindSpan[] {
  const faults = entries.filter(
    (entry): entry is Nemesis => entry.type === 'nemesis' && REDIS_FAULTS.includes(entry.kind),
  );
  const excused = (start: number, end: number): BlindSpan | undefined => {
    const fault = faults.find((f) => f.start <= end && f.end >= start);
    return fault && { start, end: Math.min(end, fault.end + reconnectWait) };
  };
  const links = new Map<number, Link[]>();
  for (const entry of entries) {
    if (entry.type !== 'link') continue;
    links.set(entry.worker, [...(links.get(entry.worker) ?? []), entry]);
  }
  const spans = new Map<number, BlindSpan[]>();
  for (const [worker, list] of links) {
    list.sort((a, b) => a.at - b.at);
    const found: BlindSpan[] = [];
    let down: number | undefined;
    for (const { at, up } of list) {
      if (!up) down ??= at;
      else if (down !== undefined) {
        found.push({ start: down, end: at });
        down = undefined;
      }
    }
    if (down !== undefined) found.push({ start: down, end: Number.POSITIVE_INFINITY });
    spans.set(
      worker,
      found.flatMap(({ start, end }) => excused(start, end) ?? []),
    );
  }
  return (worker) => spans.get(worker) ?? [];
}
