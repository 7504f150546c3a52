import type { Entry, Load, Nemesis, Op } from '../history.js';

/** Loader runs that shared one lease of the lock: the lock let the same holder load twice. */
export interface SharedLease {
  lease: string;
  loads: Load[];
}

/** What happened after a lock holder was SIGKILLed in the middle of its loader. */
export interface LockHolderCycle {
  nemesis: Nemesis;
  /** Loader runs of the key by the survivors: exactly one is expected. */
  loads: Load[];
  /** The ids of the loads whose values the survivors were served: one is expected. */
  values: string[];
  /** Survivors' calls, and how many of them failed. */
  calls: number;
  failed: number;
  /** The longest a survivor waited, from the kill to its answer (ms). */
  maxWait: number;
  /** Whether the cycle broke a rule: not one load, not one value, a failed call, or a wait past the bound. */
  violation: string | undefined;
}

/** Options of {@link lockHolderCycles}. */
export interface LockHolderOptions {
  /** The longest a survivor may wait after the holder was killed (ms): the lease plus one load, plus slack. */
  waitBound: number;
}

/** Leases of the shared lock under which more than one loader ran. */
export function sharedLeases(entries: readonly Entry[]): SharedLease[] {
  const byLease = new Map<string, Load[]>();
  for (const entry of entries) {
    if (entry.type !== 'load' || entry.lease === null) continue;
    byLease.set(entry.lease, [...(byLease.get(entry.lease) ?? []), entry]);
  }
  return [...byLease]
    .filter(([, loads]) => loads.length > 1)
    .map(([lease, loads]) => ({ lease, loads }));
}

/** Loader runs that held no lease (the lock timed out or failed, and the loader ran anyway). */
export function unleasedLoads(entries: readonly Entry[]): Load[] {
  return entries.filter((entry): entry is Load => entry.type === 'load' && entry.lease === null);
}

/**
 * For each `lock-holder-kill` fault: the loads of its key by the other workers, the values they
 * were served, and how long they waited after the kill.
 */
export function lockHolderCycles(
  entries: readonly Entry[],
  options: LockHolderOptions,
): LockHolderCycle[] {
  const cycles = entries.filter(
    (entry): entry is Nemesis => entry.type === 'nemesis' && entry.kind === 'lock-holder-kill',
  );
  return cycles.map((nemesis) => {
    const loads = entries.filter(
      (entry): entry is Load =>
        entry.type === 'load' && entry.key === nemesis.key && entry.worker !== nemesis.worker,
    );
    const calls = entries.filter(
      (entry): entry is Op =>
        entry.type === 'op' && entry.key === nemesis.key && entry.worker !== nemesis.worker,
    );
    const values = [...new Set(calls.flatMap((call) => (call.ok && call.load ? [call.load] : [])))];
    const failed = calls.filter((call) => !call.ok).length;
    const maxWait = Math.max(0, ...calls.map((call) => call.end - nemesis.start));
    let violation: string | undefined;
    if (calls.length === 0) violation = 'no call of a survivor was recorded';
    else if (loads.length !== 1) violation = `${loads.length} loads after the holder died, not 1`;
    else if (values.length !== 1) violation = `${values.length} different values served, not 1`;
    else if (failed > 0) violation = `${failed} of ${calls.length} calls failed`;
    else if (maxWait > options.waitBound) {
      violation = `a survivor waited ${Math.round(maxWait)} ms, more than ${options.waitBound} ms`;
    }
    return { nemesis, loads, values, calls: calls.length, failed, maxWait, violation };
  });
}
