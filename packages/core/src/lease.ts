import { channels, isTraced, traced } from './channels.js';
import type { LockHandle } from './types.js';

/**
 * A lock held while a loader runs, as a lease: renewed every third of its TTL while the loader
 * runs, so that a slow loader keeps it and a dead holder's lapses within one TTL; and checked
 * again, by one more renewal, just before the loaded value is written (the fence: a holder whose
 * lease lapsed, because its process stalled or Redis lost the key, does not overwrite the value
 * of the holder that took over). Between that check and the write's end there is at most the
 * store's deadline, so `storeTimeout` should stay below `lockTtl`. A lock without `extend` is
 * held for its TTL once, unchecked. Renewals stop after `maxHold` (the hard timeout, else the
 * lock timeout: past it every waiter has given up on the lock anyway) and when the load is
 * aborted, so a loader that never settles does not hold the lock for ever.
 */
export class Lease {
  readonly #handle: LockHandle;
  readonly #ttl: number;
  readonly #onError: (error: unknown) => void;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #key: string;
  #lost = false;

  constructor(
    handle: LockHandle,
    ttl: number,
    maxHold: number,
    onError: (error: unknown) => void,
    key = '',
  ) {
    this.#handle = handle;
    this.#key = key;
    this.#ttl = ttl;
    this.#onError = onError;
    if (handle.extend !== undefined) {
      const until = Date.now() + maxHold;
      this.#timer = setInterval(
        () => {
          if (Date.now() + ttl / 3 > until) this.stopRenewing();
          else void this.#renew();
        },
        Math.max(1, ttl / 3),
      );
      this.#timer.unref?.();
    }
  }

  /** Renews the lease once more and stops renewing it; resolves whether it is still held. */
  async confirm(): Promise<boolean> {
    clearInterval(this.#timer);
    if (this.#handle.extend === undefined) return true;
    return this.#renew();
  }

  /** Stops renewing: the lease lapses within its TTL unless confirmed before. */
  stopRenewing(): void {
    clearInterval(this.#timer);
  }

  /** Stops renewing and releases the lock (errors are reported, never thrown). */
  release(): void {
    clearInterval(this.#timer);
    this.#handle.release().catch(this.#onError);
  }

  async #renew(): Promise<boolean> {
    if (this.#lost) return false;
    try {
      const extend = () => this.#handle.extend!(this.#ttl);
      const held = await (isTraced(channels.lockRenew)
        ? traced(channels.lockRenew, { key: this.#key }, extend)
        : extend());
      if (!held) this.#lost = true;
    } catch (error) {
      // Redis failed: whether the lease still holds is unknown, so it is not trusted.
      this.#onError(error);
      this.#lost = true;
    }
    if (this.#lost) clearInterval(this.#timer);
    return !this.#lost;
  }
}
