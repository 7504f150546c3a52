import { type Entry, REDIS_FAULTS } from '../history.js';
import { cutOffSpans } from './blind.js';

/**
 * For each Redis fault (`redis-kill`, `redis-pause`) and each worker whose store was cut off by
 * it, the ms from the fault's end (Redis back) to the worker's store being back: as long again,
 * the worker's failed invalidations wait to reach the others.
 */
export function storeBackDelays(entries: readonly Entry[]): number[] {
  const cutOff = cutOffSpans(entries);
  const workers = new Set<number>();
  for (const entry of entries) if (entry.type === 'link') workers.add(entry.worker);
  const delays: number[] = [];
  for (const fault of entries) {
    if (fault.type !== 'nemesis' || !REDIS_FAULTS.includes(fault.kind)) continue;
    for (const worker of workers) {
      const span = cutOff(worker).find((s) => s.start <= fault.end && s.end >= fault.start);
      if (span !== undefined && Number.isFinite(span.end)) {
        delays.push(Math.max(0, span.end - fault.end));
      }
    }
  }
  return delays;
}
