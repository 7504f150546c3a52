import type { Entry, Load, Op } from '../history.js';
import { blindSpans, cutOffSpans, spanAt } from './blind.js';

/** Bounds of {@link staleReads}, in ms. */
export interface StalenessOptions {
  /** How long after a write resolved a read may still return what it replaced. */
  bound: number;
  /**
   * The same, for a read that starts while its worker is cut off from Redis or the bus (a fault
   * until the worker reconnected): L1 copies are then bounded by the L1 TTL only.
   */
  faultBound: number;
  /**
   * How long after a worker reconnected its reads of writes that resolved before it was back
   * count as "after reconnect" rather than "bus up".
   */
  recoveryWindow: number;
  /** How long after a fault ends a worker's bus reconnection still counts as the end of that fault. */
  reconnectWait: number;
}

// How long before a write a load may start and still race it: its store (after the loader, the
// lease check and the store's own deadline of 2 s) may land after the write's invalidation.
const RACE_WINDOW = 3_000;

/** When a stale read happened: bus up, while its worker was cut off, or after it reconnected. */
export type Phase = 'bus-up' | 'fault' | 'recovery';

/** A read that returned a version a resolved write had replaced. */
export interface StaleRead {
  read: Op;
  /** The write that replaced the version read, the earliest to count. */
  write: Op;
  /**
   * ms from when the write counts as visible to the read's start: when it resolved, or when its
   * writer was back if the writer was cut off from Redis meanwhile, or when the reader reconnected
   * if it was cut off then.
   */
  delay: number;
  phase: Phase;
  /** Whether `delay` exceeds the bound of the phase. */
  violation: boolean;
  /**
   * A load of the version read that started shortly before the write resolved: its result is
   * stored in the background after the answer, so the store may land after the write's
   * invalidation (the read-then-store race of cache-aside).
   */
  racingLoad?: Load;
}

/**
 * Every read (`read`, `getOrSet`) that returned a version older than a write of its key that had
 * resolved before the read started, with how long before. A write that told the cache with `set`
 * may legitimately be overtaken by an older concurrent `set` (both raced to the cache): a version
 * written by a `set` that may have landed after the newer write started is not stale. A `set`
 * that failed or resolved `false` may still land (a timed-out write), at any time. A write whose
 * cache call resolved counts, even `false`: an invalidation that failed must still get through.
 */
export function staleReads(entries: readonly Entry[], options: StalenessOptions): StaleRead[] {
  const writes = new Map<string, Op[]>();
  const setOf = new Map<string, Op>();
  const loads = new Map<string, Load[]>();
  for (const entry of entries) {
    if (entry.type === 'load' && entry.version !== undefined) {
      const id = `${entry.key}\0${entry.version}`;
      loads.set(id, [...(loads.get(id) ?? []), entry]);
    }
    if (entry.type !== 'op' || entry.f !== 'write' || entry.version == null) continue;
    if (entry.variant === 'set') setOf.set(`${entry.key}\0${entry.version}`, entry);
    if (!entry.ok) continue;
    const list = writes.get(entry.key);
    if (list === undefined) writes.set(entry.key, [entry]);
    else list.push(entry);
  }
  // Per key: writes by end, and the greatest version among the first i (to find the first write
  // newer than a version by binary search).
  const byKey = new Map<string, { list: Op[]; maxVersion: number[] }>();
  for (const [key, list] of writes) {
    list.sort((a, b) => a.end - b.end);
    let max = Number.NEGATIVE_INFINITY;
    const maxVersion = list.map((write) => {
      max = Math.max(max, write.version!);
      return max;
    });
    byKey.set(key, { list, maxVersion });
  }
  const blind = blindSpans(entries, options.reconnectWait);
  const cutOff = cutOffSpans(entries, options.reconnectWait);
  // When a write can reach the others at the earliest: when it resolved, or, if its worker was
  // cut off from Redis meanwhile, when the worker was back (its invalidation is retried then).
  const sent = (write: Op) =>
    cutOff(write.worker).find((span) => span.start <= write.end && span.end >= write.start)?.end ??
    write.end;
  const found: StaleRead[] = [];
  for (const read of entries) {
    if (read.type !== 'op' || (read.f !== 'read' && read.f !== 'getOrSet')) continue;
    if (!read.ok || read.version == null) continue;
    const key = byKey.get(read.key);
    if (key === undefined) continue;
    const version = read.version;
    const { list, maxVersion } = key;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (maxVersion[mid]! > version) high = mid;
      else low = mid + 1;
    }
    const spans = blind(read.worker);
    const installed = setOf.get(`${read.key}\0${version}`);
    const landsUntil =
      installed === undefined
        ? -1
        : installed.ok && installed.acknowledged !== false
          ? installed.end
          : Number.POSITIVE_INFINITY;
    let best: { write: Op; visible: number } | undefined;
    for (let i = low; i < list.length; i++) {
      const write = list[i]!;
      if (write.end >= read.start || (best && write.end >= best.visible)) break;
      if (write.version! <= version || landsUntil > write.start) continue;
      // Its own writer hears a write at once, cut off or not (C1, C2 in one process).
      const out = write.worker === read.worker ? write.end : sent(write);
      const visible = Math.max(out, spanAt(spans, out)?.end ?? out);
      if (visible < read.start && (best === undefined || visible < best.visible)) {
        best = { write, visible };
      }
    }
    if (best === undefined) continue;
    const during = spanAt(spans, read.start);
    // Soon after the reader reconnected, of a write it may have missed (one that resolved
    // before it was back): a write made since reached it over the bus as any other.
    const after = spans.some(
      (span) =>
        read.start > span.end &&
        read.start <= span.end + options.recoveryWindow &&
        best.write.end <= span.end,
    );
    const phase: Phase =
      during !== undefined
        ? 'fault'
        : after || best.visible !== best.write.end
          ? 'recovery'
          : 'bus-up';
    const delay = read.start - best.visible;
    const racingLoad = loads
      .get(`${read.key}\0${version}`)
      ?.find((load) => load.start < best.write.end && load.start > best.write.start - RACE_WINDOW);
    found.push({
      read,
      write: best.write,
      delay,
      phase,
      violation: delay > (phase === 'fault' ? options.faultBound : options.bound),
      ...(racingLoad && { racingLoad }),
    });
  }
  return found;
}
