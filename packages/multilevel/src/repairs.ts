import { RESERVED_PREFIX, RetryLoop } from '@cache/core';

/** The most keys waiting for repair; beyond it the oldest is given up (and reported). */
const MOST_KEYS = 10_000;

/**
 * Keys whose write or delete failed on some tiers, which may still hold the old value there.
 * Each is deleted from those tiers again, in rounds with backoff, until that lands (then the
 * store tells other processes to drop their copies): a deleted key is reloaded, an old value
 * would be served. A later write that lands on a tier leaves nothing to repair there.
 *
 * The cache's own records (tag records: keys starting with `__cache:`) are never repaired by deleting
 * them: a deleted tag record reads as a tag never invalidated, which would bring back every
 * entry an earlier invalidation voided. The cache retries their writes itself until they land.
 */
export class Repairs {
  readonly #failed = new Map<string, Set<number>>();
  readonly #repair: (key: string, tiers: Set<number>) => Promise<unknown>;
  readonly #giveUp: (key: string) => void;
  readonly #loop = new RetryLoop(() => this.#round());

  /**
   * `repair` deletes the key from the tiers (rejecting when any failed); `giveUp` reports a key
   * dropped because too many were waiting.
   */
  constructor(
    repair: (key: string, tiers: Set<number>) => Promise<unknown>,
    giveUp: (key: string) => void,
  ) {
    this.#repair = repair;
    this.#giveUp = giveUp;
  }

  /** How many keys wait for repair. */
  get size(): number {
    return this.#failed.size;
  }

  /** A write or delete of `keys` failed on `tier`. */
  failed(keys: readonly string[], tier: number): void {
    for (const key of keys) {
      if (key.startsWith(RESERVED_PREFIX)) continue;
      let tiers = this.#failed.get(key);
      if (tiers === undefined) {
        tiers = new Set();
        this.#failed.set(key, tiers);
        if (this.#failed.size > MOST_KEYS) {
          const oldest = this.#failed.keys().next().value!;
          this.#failed.delete(oldest);
          this.#giveUp(oldest);
        }
      }
      tiers.add(tier);
    }
    this.#loop.schedule();
  }

  /** A write or delete of `keys` landed on `tier`: what it held before no longer matters. */
  landed(keys: readonly string[], tier: number): void {
    if (this.#failed.size === 0) return;
    for (const key of keys) {
      const tiers = this.#failed.get(key);
      if (tiers?.delete(tier) && tiers.size === 0) this.#failed.delete(key);
    }
  }

  /** Tries again now (the connection is back, say). */
  now(): void {
    if (this.#failed.size > 0) this.#loop.now();
  }

  /** The shared tiers answered a call: if rounds have been failing, one runs now (see RetryLoop). */
  answered(): void {
    this.#loop.answered();
  }

  /** Stops trying. */
  close(): void {
    this.#loop.close();
  }

  async #round(): Promise<{ failed: boolean; remaining: boolean }> {
    const round = [...this.#failed].map(([key, tiers]) => this.#repair(key, new Set(tiers)));
    const outcomes = await Promise.allSettled(round);
    return {
      failed: outcomes.some((outcome) => outcome.status === 'rejected'),
      remaining: this.#failed.size > 0,
    };
  }
}
