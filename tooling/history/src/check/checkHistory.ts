import type { Entry, Nemesis, Op } from '../history.js';
import { type HeapOptions, type HeapTrend, heapTrends } from './heap.js';
import {
  type LockHolderCycle,
  type LockHolderOptions,
  lockHolderCycles,
  type SharedLease,
  sharedLeases,
  unleasedLoads,
} from './loads.js';
import { type StalenessOptions, type StaleRead, staleReads } from './staleness.js';
import { storeBackDelays } from './storeBack.js';
import { checkWriteBehind, type WriteBehindResult } from './writeBehind.js';

/** Bounds of {@link checkHistory}. */
export interface CheckOptions {
  staleness: StalenessOptions;
  lockHolder: LockHolderOptions;
  heap: HeapOptions;
}

/** One broken rule, with the entries that show it. */
export interface Violation {
  rule:
    | 'stale-read'
    | 'shared-lease'
    | 'lock-holder'
    | 'write-behind-lost'
    | 'write-behind-stale'
    | 'heap';
  message: string;
  entries: Entry[];
}

/** Everything the checker found in a history. */
export interface CheckResult {
  nemeses: Nemesis[];
  ops: Op[];
  stale: StaleRead[];
  sharedLeases: SharedLease[];
  unleasedLoads: number;
  lockHolder: LockHolderCycle[];
  writeBehind: WriteBehindResult;
  heap: HeapTrend[];
  /** ms from Redis back after a fault to each cut-off worker's store back (see storeBackDelays). */
  storeBack: number[];
  violations: Violation[];
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Runs every check over a history and lists the violations. */
export function checkHistory(entries: readonly Entry[], options: CheckOptions): CheckResult {
  const stale = staleReads(entries, options.staleness);
  const shared = sharedLeases(entries);
  const lockHolder = lockHolderCycles(entries, options.lockHolder);
  const writeBehind = checkWriteBehind(entries);
  const heap = heapTrends(entries, options.heap);
  const violations: Violation[] = [];
  for (const read of stale) {
    if (!read.violation) continue;
    violations.push({
      rule: 'stale-read',
      message:
        `${read.phase}: worker ${read.read.worker} ${read.read.f}(${read.read.key}) returned ` +
        `version ${read.read.version} ${ms(read.delay)} after worker ${read.write.worker}'s ` +
        `write of version ${read.write.version} (${read.write.variant}) resolved` +
        (read.racingLoad
          ? `; a load of that version started ${ms(read.write.end - read.racingLoad.start)} before the write resolved (its store may have landed after the write's invalidation)`
          : ''),
      entries: [read.write, read.read, ...(read.racingLoad ? [read.racingLoad] : [])],
    });
  }
  for (const { lease, loads } of shared) {
    violations.push({
      rule: 'shared-lease',
      message: `${loads.length} loads of ${loads[0]!.key} under lease ${lease}`,
      entries: loads,
    });
  }
  for (const cycle of lockHolder) {
    if (cycle.violation === undefined) continue;
    violations.push({
      rule: 'lock-holder',
      message: `holder worker ${cycle.nemesis.worker} of ${cycle.nemesis.key} killed: ${cycle.violation}`,
      entries: [cycle.nemesis, ...cycle.loads],
    });
  }
  for (const bad of writeBehind.lost) {
    violations.push({
      rule: 'write-behind-lost',
      message: `${bad.key}: no row, though write() of ${bad.last.value} resolved`,
      entries: [bad.last],
    });
  }
  for (const bad of writeBehind.stale) {
    violations.push({
      rule: 'write-behind-stale',
      message: `${bad.key}: row holds ${bad.row}, older than the resolved write() of ${bad.last.value}`,
      entries: [bad.last],
    });
  }
  for (const trend of heap) {
    if (!trend.grew) continue;
    violations.push({
      rule: 'heap',
      message: `worker ${trend.worker}: heap after GC grew from ${trend.start} to ${trend.end} bytes`,
      entries: [],
    });
  }
  return {
    nemeses: entries
      .filter((entry): entry is Nemesis => entry.type === 'nemesis')
      .sort((a, b) => a.start - b.start),
    ops: entries.filter((entry): entry is Op => entry.type === 'op'),
    stale,
    sharedLeases: shared,
    unleasedLoads: unleasedLoads(entries).length,
    lockHolder,
    writeBehind,
    heap,
    storeBack: storeBackDelays(entries),
    violations,
  };
}
