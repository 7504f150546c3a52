import { channels, isTraced, publishOutcome, traceStoreCall } from './channels.js';
import { coarseNow } from './clock.js';
import { isEntryOrMiss } from './entry.js';
import { SerializationError, StoreError } from './errors.js';
import type { CacheOperation } from './events.js';
import type { Telemetry } from './telemetry.js';
import type { CacheEntry, CacheStore, MaybePromise } from './types.js';

/** What {@link StoreGateway.write} resolves when the store failed (the failure is reported). */
export const FAILED: unique symbol = Symbol('failed');

/** How the gateway guards a store: a deadline per call and a circuit breaker on timeouts. */
export interface GatewayPolicy {
  /** Deadline of every asynchronous store call in ms; `undefined`: none. */
  readonly storeTimeout: number | undefined;
  /** Calls in a row that timed out before the circuit opens; `undefined`: no breaker. */
  readonly breakerFailures: number | undefined;
  /** How long an open circuit fails calls at once before one call probes the store, in ms. */
  readonly breakerCooldown: number;
}

// A call waiting for its store. They form a list in order of deadline (every deadline is now +
// the same timeout) holding only calls still waiting: one that settles leaves it at once.
interface Waiting {
  readonly deadline: number;
  readonly reject: (error: StoreError) => void;
  previous: Waiting | undefined;
  next: Waiting | undefined;
}

/** Work waiting for the store (failed tag invalidations): told when the store answers again. */
export interface StoreRetries {
  /** How much work waits. */
  readonly size: number;
  /** The store answered a call in time. */
  answered(): void;
}

/**
 * Every call a cache makes to its store goes through here: an asynchronous answer gets a
 * deadline (`storeTimeout`), a store that keeps timing out opens a circuit during which the
 * cache waits for no asynchronous answer for `breakerCooldown` (then one call probes it), an answer the contract does not allow becomes
 * a `StoreError` (`E_STORE_CONTRACT`), and failures become `error` events and counters. A
 * synchronous answer (the in-process fast path) costs no promise and no timer.
 */
export class StoreGateway {
  readonly store: CacheStore;
  readonly #policy: GatewayPolicy;
  readonly #telemetry: Telemetry;
  #first: Waiting | undefined;
  #last: Waiting | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #openUntil = 0;
  // A store of tiers (multilevel) publishes its own calls on `cache:store`, one per tier.
  readonly #tiered: boolean;
  readonly #retries: StoreRetries | undefined;

  /** `retries`, work waiting for the store, hears of every asynchronous answer it gives. */
  constructor(
    store: CacheStore,
    policy: GatewayPolicy,
    telemetry: Telemetry,
    retries?: StoreRetries,
  ) {
    this.store = store;
    this.#policy = policy;
    this.#telemetry = telemetry;
    this.#retries = retries;
    this.#tiered = Array.isArray((store as { tiers?: unknown }).tiers);
  }

  /** Publishes the fast path's hit (a synchronous fresh entry) on the channels that listen. */
  fastHit(key: string, entry: CacheEntry): void {
    publishOutcome('getOrSet', key, this.store.name, 'hit');
    if (this.#traced()) this.#trace('get', key, () => entry);
  }

  #traced(): boolean {
    return !this.#tiered && isTraced(channels.store);
  }

  // Publishes a call of the store as tier 0.
  #trace<T>(
    operation: string,
    key: string | undefined,
    run: () => MaybePromise<T>,
  ): MaybePromise<T> {
    return traceStoreCall(this.store.name, 0, operation, key, run);
  }

  /**
   * Reads `key`: the entry, or `undefined`, or a promise of either. Rejects (or throws) with a
   * `StoreError` when the store fails, times out or the circuit is open.
   */
  read(key: string): MaybePromise<CacheEntry | undefined> {
    let found: MaybePromise<CacheEntry | undefined>;
    try {
      found = this.#traced()
        ? this.#trace('get', key, () => this.store.get(key))
        : this.store.get(key);
    } catch (error) {
      this.#failed(error);
      throw error;
    }
    if (found instanceof Promise) {
      return this.#within(found).then(
        (entry) => this.#checked(key, entry),
        (error: unknown) => {
          this.#failed(error);
          throw error;
        },
      );
    }
    return this.#checked(key, found);
  }

  /**
   * Reads `key` as a cache read does: a failure is reported (an `error` event, not a dropped
   * write) and answered as a miss; a contract violation rejects.
   */
  get(key: string): MaybePromise<CacheEntry | undefined> {
    let found: MaybePromise<CacheEntry | undefined>;
    try {
      found = this.store.get(key);
    } catch (error) {
      return this.#getFailed(key, error);
    }
    return this.answered(key, found);
  }

  /**
   * What {@link StoreGateway.get} makes of `found`, the store's own answer to `get(key)` (the hit
   * path calls the store itself and comes here with anything but a fresh entry).
   */
  answered(key: string, found: unknown): MaybePromise<CacheEntry | undefined> {
    if (this.#traced()) found = this.#trace('get', key, () => found as MaybePromise<CacheEntry>);
    return this.#answered(key, found);
  }

  #answered(key: string, found: unknown): MaybePromise<CacheEntry | undefined> {
    if (found instanceof Promise) {
      return this.#within(found).then(
        (entry) => this.#checked(key, entry),
        (error: unknown) => this.#getFailed(key, error),
      );
    }
    try {
      return this.#checked(key, found);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // A read of `key` failed with `error`: reported, and answered as a miss (a contract violation rejects).
  #getFailed(key: string, error: unknown): undefined {
    this.#failed(error);
    return this.#missed(error, 'get', key);
  }

  /** Reads `keys` in one call where the store can; a failure is reported and answered as misses. */
  async getMany(keys: string[]): Promise<(CacheEntry | undefined)[]> {
    const { store } = this;
    try {
      const call = () =>
        store.getMany ? store.getMany(keys) : Promise.all(keys.map((k) => store.get(k)));
      const found = this.#traced() ? this.#trace('getMany', undefined, call) : call();
      const entries = await this.#within(Promise.resolve(found));
      if (!Array.isArray(entries) || entries.length !== keys.length) {
        throw this.#contract(
          `getMany() answered ${describe(entries)} instead of ${keys.length} slots`,
        );
      }
      for (let i = 0; i < keys.length; i++) this.#checked(keys[i]!, entries[i]);
      return entries;
    } catch (error) {
      this.#failed(error);
      return this.#missed(error, 'get', undefined, keys);
    }
  }

  /**
   * Runs a store write, `run`, at once (in the caller's tick). Resolves its result, or
   * {@link FAILED} when the store failed: the failure is reported as a dropped write (one that
   * timed out may still land later). Without `deadline` (bulk work such as a clear or a pattern
   * delete, which walks the keyspace) it waits as long as the store takes. A `SerializationError` rejects when `strict`, else it is
   * reported (operation `'serialize'`).
   */
  write<T>(
    operation: CacheOperation,
    key: string | undefined,
    run: (store: CacheStore) => MaybePromise<T>,
    strict = false,
    deadline = true,
  ): Promise<T | typeof FAILED> {
    let done: MaybePromise<T>;
    try {
      done = this.#traced() ? this.#trace(operation, key, () => run(this.store)) : run(this.store);
    } catch (error) {
      try {
        return Promise.resolve(this.#writeFailed(error, operation, key, strict));
      } catch (rethrown) {
        return Promise.reject(rethrown);
      }
    }
    if (!(done instanceof Promise)) return Promise.resolve(done);
    // Every miss writes through here: one promise more than the store's, not an async function's.
    return (deadline ? this.#within(done) : done).then(undefined, (error: unknown) =>
      this.#writeFailed(error, operation, key, strict),
    );
  }

  // A write failed: reported as a dropped write, answered as FAILED; a SerializationError
  // throws instead when `strict`.
  #writeFailed(
    error: unknown,
    operation: CacheOperation,
    key: string | undefined,
    strict: boolean,
  ): typeof FAILED {
    const serialization = error instanceof SerializationError;
    if (serialization && strict) throw error;
    this.#failed(error);
    this.#telemetry.error(error, serialization ? 'serialize' : operation, key, true);
    return FAILED;
  }

  #checked(key: string, found: unknown): CacheEntry | undefined {
    if (isEntryOrMiss(found)) return found;
    throw this.#contract(
      `get("${key}") returned ${describe(found)} instead of a CacheEntry or undefined`,
    );
  }

  #missed(error: unknown, operation: CacheOperation, key: string | undefined): undefined;
  #missed(error: unknown, operation: CacheOperation, key: undefined, keys: string[]): undefined[];
  #missed(
    error: unknown,
    operation: CacheOperation,
    key: string | undefined,
    keys?: string[],
  ): undefined | undefined[] {
    if (isContractError(error)) throw error;
    this.#telemetry.error(error, operation, key, false);
    return keys?.map(() => undefined);
  }

  #contract(message: string): StoreError {
    return new StoreError(this.store.name, message, { code: 'E_STORE_CONTRACT' });
  }

  // Only calls that got no answer in time count: a store that fails fast (or has a breaker of
  // its own, as @cache/redis does) costs the cache nothing, and recovers as soon as it answers.
  #failed(error: unknown): void {
    if (!(error instanceof StoreError && error.code === 'E_STORE_TIMEOUT')) return;
    if (++this.#failures === this.#policy.breakerFailures) {
      this.#openUntil = coarseNow() + this.#policy.breakerCooldown;
      this.#breaker('open');
    }
  }

  // An answer in time: the failures in a row end, and an open circuit closes.
  #recovered(): void {
    const threshold = this.#policy.breakerFailures;
    const open = threshold !== undefined && this.#failures >= threshold;
    this.#failures = 0;
    if (open) this.#breaker('closed');
  }

  #breaker(state: 'open' | 'closed'): void {
    if (channels.breaker.hasSubscribers)
      channels.breaker.publish({ store: this.store.name, state });
  }

  // Races an answer against the deadline; a late answer is ignored. While the circuit is open the
  // cache does not wait at all: the call has gone out (an answer the store gives at once, such as
  // a multilevel store's L1 hit, is still used), but its promise fails at once, except for one
  // call per cooldown that probes the store.
  #within<T>(answer: Promise<T>): Promise<T> {
    const threshold = this.#policy.breakerFailures;
    if (threshold !== undefined && this.#failures >= threshold) {
      const now = coarseNow();
      if (now < this.#openUntil) {
        answer.catch(() => {});
        return Promise.reject(
          new StoreError(this.store.name, 'circuit open: the store kept timing out', {
            code: 'E_STORE_UNAVAILABLE',
          }),
        );
      }
      this.#openUntil = now + this.#policy.breakerCooldown;
    }
    const timeout = this.#policy.storeTimeout;
    if (timeout === undefined) {
      if (this.#failures === 0 && !this.#retries?.size) return answer;
      return answer.then((value) => {
        this.#recovered();
        this.#retries?.answered();
        return value;
      });
    }
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = {
        deadline: coarseNow() + timeout,
        reject,
        previous: this.#last,
        next: undefined,
      };
      if (this.#last === undefined) this.#first = waiting;
      else this.#last.next = waiting;
      this.#last = waiting;
      if (this.#timer === undefined) this.#arm(timeout);
      answer.then(
        (value) => {
          // An answer in time closes the circuit (a synchronous one, such as an L1 hit, says
          // nothing of the store behind it).
          if (this.#unlink(waiting)) {
            if (this.#failures !== 0) this.#recovered();
            if (this.#retries?.size) this.#retries.answered();
          }
          resolve(value);
        },
        (error: unknown) => {
          this.#unlink(waiting);
          reject(error);
        },
      );
    });
  }

  // Takes a call off the list; false when it was off already (it expired).
  #unlink(waiting: Waiting): boolean {
    const { previous, next } = waiting;
    if (previous === undefined) {
      if (this.#first !== waiting) return false;
      this.#first = next;
    } else previous.next = next;
    if (next === undefined) this.#last = previous;
    else next.previous = previous;
    waiting.previous = waiting.next = undefined;
    return true;
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(this.#expire, Math.max(1, delay));
    this.#timer.unref?.();
  }

  // Rejects every call past its deadline, then waits for the next one's.
  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = coarseNow();
    let next = this.#first;
    while (next !== undefined && next.deadline <= now) {
      this.#unlink(next);
      next.reject(
        new StoreError(this.store.name, `no answer within ${this.#policy.storeTimeout}ms`, {
          code: 'E_STORE_TIMEOUT',
        }),
      );
      next = this.#first;
    }
    if (next !== undefined) this.#arm(next.deadline - now);
  };
}

/** Whether anyone listens for the fast path's hits (the outcome or the store call). */
export function fastHitWatched(): boolean {
  return channels.operation.hasSubscribers || isTraced(channels.store);
}

function isContractError(error: unknown): boolean {
  return error instanceof StoreError && error.code === 'E_STORE_CONTRACT';
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
