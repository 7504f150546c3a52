import type { CacheLock, LockHandle } from '@cache/core';
import { type Lease, now } from './history.js';

/**
 * Wraps a {@link CacheLock} to name each lease it hands out (`<worker>:<pid>:<n>`), record it,
 * and tell a loader which lease it runs under. It knows the load by its abort signal: `getOrSet`
 * hands the lock the signal its loader then sees as `context.signal`. Were that to change, loads
 * would show as run without a lease (never as two loads under one).
 */
export class TracedLock implements CacheLock {
  readonly #lock: CacheLock;
  readonly #worker: number;
  readonly #record: (lease: Lease) => void;
  readonly #held = new WeakMap<AbortSignal, string>();
  #next = 0;

  constructor(lock: CacheLock, worker: number, record: (lease: Lease) => void) {
    this.#lock = lock;
    this.#worker = worker;
    this.#record = record;
  }

  /** The lease the load whose `context.signal` this is runs under, if any. */
  held(signal: AbortSignal): string | undefined {
    return this.#held.get(signal);
  }

  async acquire(
    key: string,
    options: { ttl: number; timeout: number; signal?: AbortSignal },
  ): Promise<LockHandle | undefined> {
    const handle = await this.#lock.acquire(key, options);
    if (handle === undefined) return undefined;
    const lease = `${this.#worker}:${process.pid}:${this.#next++}`;
    if (options.signal) this.#held.set(options.signal, lease);
    const signal = options.signal;
    const worker = this.#worker;
    this.#record({ type: 'lease', worker, key, lease, at: now() });
    const forget = () => {
      if (signal) this.#held.delete(signal);
    };
    const traced: LockHandle = {
      release: async () => {
        forget();
        await handle.release();
      },
    };
    if (handle.extend !== undefined) {
      traced.extend = async (ttl) => {
        const kept = await handle.extend!(ttl);
        if (!kept) {
          forget();
          this.#record({ type: 'lease', worker, key, lease, at: now(), lost: true });
        }
        return kept;
      };
    }
    return traced;
  }
}
