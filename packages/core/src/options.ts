import type { Clock } from './clock.js';
import type { TimeoutOptions } from './policy.js';
import type { CacheLock, CacheStore, Duration, Serializer } from './types.js';

/** Options of {@link createCache}. Durations are ms or strings such as `'30s'`, `'1h'`. */
export interface CacheOptions {
  /** Where entries live: `memoryStore()`, `redisStore()`, `multilevel()` or any {@link CacheStore}. */
  store: CacheStore;
  /**
   * How long a value stays fresh. `0` means values are not cached; `'forever'` (or `Infinity`)
   * that they never expire (they leave only when evicted, deleted or invalidated). @default '1h'
   */
  ttl?: Duration;
  /**
   * Spread each TTL uniformly by ± this much (at most half the TTL), so keys written together do
   * not expire together. The seed's `ttl: '1h', jitter: '5m'` gives 55 to 65 minutes. @default 0
   */
  jitter?: Duration;
  /** How long past its TTL a value may still be served when the loader fails or is slow. @default false */
  grace?: Duration | false;
  /**
   * Stale-while-revalidate: a value stays servable for this long past its TTL, and a read of
   * it returns it at once while one background load refreshes it. The same as `grace: swr`
   * with `timeouts: { soft: 0 }` (an explicit `timeouts.soft` or a longer `grace` wins).
   */
  swr?: Duration;
  /**
   * Refresh-ahead: a hit on a value past `ahead` of its TTL (a fraction such as `0.8`, or a
   * duration since it was written such as `'50m'`) returns it at once and starts one background
   * refresh, so that hot keys never expire under their readers. Across processes sharing a
   * `lock`, only the one that takes the lock without waiting refreshes. A failed refresh is an
   * `error` event and is not tried again for `graceBackoff`. @default none
   */
  refresh?: { ahead: Duration } | false;
  /** After a loader failure answered with a stale value, how long to keep serving it before trying again. @default '10s' */
  graceBackoff?: Duration;
  /** TTL of a `null` returned by a loader (negative caching). @default the `ttl` */
  negativeTtl?: Duration;
  /** Loader timeouts: `soft` serves a stale value and lets the loader finish; `hard` gives up. */
  timeouts?: TimeoutOptions;
  /** Prefix every key with `namespace:`. */
  namespace?: string;
  /** Serializer handed to stores that serialize (Redis, memory with `clone`). @default defaultSerializer */
  serializer?: Serializer;
  /** A lock shared by processes (such as `redisLock`) so one process in all runs a cold key's loader. */
  lock?: CacheLock;
  /**
   * How long `getOrSet` waits for the shared lock before loading anyway. Keep it above
   * `lockTtl`, so that the lock of a holder that died lapses (and another process takes over)
   * before the waiters give up. @default '10s'
   */
  lockTimeout?: Duration;
  /**
   * The lease of the shared lock: renewed every third of it while the loader runs, so a slow
   * loader keeps the lock and a dead holder's lapses within `lockTtl`; renewed once more before
   * the value is written, and a holder that lost it does not write (a `LockLostError` event).
   * Keep `storeTimeout` below it. @default '5s'
   */
  lockTtl?: Duration;
  /**
   * How long a tag invalidation is remembered. Entries carrying a tag must not live longer
   * (TTL plus grace) than this, or an invalidated entry could come back. @default '30d'
   */
  tagTtl?: Duration;
  /**
   * Over a store that relays invalidations from other processes (a multilevel store with a
   * bus), how long this process trusts what it read of a tag record before it reads it again:
   * how long a lost bus message can hide another process's tag invalidation at most (plus the
   * multilevel store's `recordTtl`). Records of at most 10,000 tags are kept in process, the
   * one read from the store longest ago dropped first. The first cache created over a store
   * sets it for every cache over that store. @default '5s'
   */
  tagRecheck?: Duration;
  /**
   * Deadline of every call to the store: a store that does not answer in time fails the call
   * with `StoreError` code `E_STORE_TIMEOUT` (a read then misses, a write is dropped and reported).
   * `false` waits as long as the store takes. @default '2s'
   */
  storeTimeout?: Duration | false;
  /**
   * The circuit breaker in front of the store: after `failures` calls in a row got no answer
   * within `storeTimeout`, the cache waits for no asynchronous answer for `cooldown` (such calls
   * fail at once with `E_STORE_UNAVAILABLE`; what the store answers synchronously, such as a
   * multilevel store's L1 hit, is still served), then one call probes the store and its answer
   * closes the circuit. Errors the store answers quickly do not count (a dead Redis refuses at
   * once, and @cache/redis has a breaker of its own that stops the calls themselves). `false`
   * turns it off. @default { failures: 5, cooldown: '1s' }
   */
  circuitBreaker?: { failures?: number; cooldown?: Duration } | false;
  /**
   * Where expiry is read. The default reads `Date.now()` at most about once a millisecond of
   * event-loop time (see {@link coarseNow}); pass `exactClock` to read it on every check, or
   * your own clock in tests. @default systemClock
   */
  clock?: Clock;
  /**
   * Called with every store write a miss leaves running in the background (a miss returns as
   * soon as its loader resolves), so a serverless runtime keeps the instance alive until it
   * settles: `waitUntil: (p) => ctx.waitUntil(p)`. `flush()` and `close()` wait for them too.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * What an invalidation handler returns: keys to delete (a key or an array of keys), or an object
 * naming keys, tags to invalidate, prefixes to clear and glob patterns to delete. All are
 * relative to the cache (or namespace) the handlers were registered on.
 */
export type InvalidationTarget =
  | string
  | string[]
  | { keys?: string[]; tags?: string[]; prefixes?: string[]; patterns?: string[] }
  | undefined
  | void;

/** Handlers of {@link Cache.invalidateOn}, by event name. */
export type InvalidationHandlers = Record<
  string,
  (payload: any) => InvalidationTarget | Promise<InvalidationTarget>
>;

/**
 * Options of the invalidations of {@link Cache}: `delete`, `deleteMany`, `clear`,
 * `invalidateTags` and a namespace's `invalidate`.
 */
export interface InvalidateOptions {
  /**
   * `'delete'` removes the values: never served again, not even when the loader fails.
   * `'expire'` (soft invalidation) keeps each as a grace fallback only: it is never a hit again,
   * the next `getOrSet` loads anew, and the old value answers only where a stale value past its
   * TTL would (the loader fails or times out while it is within grace, and `stale` reports it);
   * without grace it is as good as deleted. It holds in every tier and, over a bus, in every
   * process; a store that cannot expire entries deletes them. @default 'delete'
   */
  mode?: 'delete' | 'expire';
}

/** Options of {@link Cache.namespace}. */
export interface NamespaceOptions {
  /**
   * Give the namespace a version, so that {@link Cache.invalidate} voids all of its entries in
   * O(1), across tiers and processes, instead of clearing them one by one. Open it with this
   * option everywhere it is written. @default false
   */
  versioned?: boolean;
}

/** Options of {@link Cache.set} and the storing half of {@link Cache.getOrSet}. */
export interface SetOptions {
  /** How long the value stays fresh; `'forever'` (or `Infinity`) for never. @default the cache's `ttl` */
  ttl?: Duration;
  /** Spread the TTL by ± this much. @default the cache's `jitter` */
  jitter?: Duration;
  /** How long past its TTL the value may be served when the loader fails. @default the cache's `grace` */
  grace?: Duration | false;
  /** Tags stored with the value. */
  tags?: string[];
  /** Version stored with the value; a read asking for another version misses. */
  version?: number | string;
}

/** Options of {@link Cache.get} and {@link Cache.has}. */
export interface GetOptions {
  /** Only a value stored with this version counts; any other is a miss. */
  version?: number | string;
}

/** Options of {@link Cache.getOrSet}. */
export interface GetOrSetOptions extends SetOptions {
  /** TTL of a `null` result. @default the cache's `negativeTtl` */
  negativeTtl?: Duration;
  /** Loader timeouts for this call. @default the cache's `timeouts` */
  timeouts?: TimeoutOptions;
  /** A shared lock for this call, or `false` to skip the cache's lock. @default the cache's `lock` */
  lock?: CacheLock | false;
  /** Stale-while-revalidate for this call (see {@link CacheOptions.swr}). @default the cache's `swr` */
  swr?: Duration;
  /** Refresh-ahead for this call, or `false` for none (see {@link CacheOptions.refresh}). @default the cache's `refresh` */
  refresh?: { ahead: Duration } | false;
  /**
   * Call the loader even if a fresh value is cached (joining a load of the key already running),
   * and store its result. If the loader fails or times out, the cached value is returned when it
   * is still fresh or within grace; otherwise the call rejects with the loader's error.
   * @default false
   */
  forceFresh?: boolean;
}

/** What a loader receives: the key, an abort signal, the stale value and ways to steer caching. */
export interface LoaderContext<T = unknown> {
  /** The key being loaded, as the caller passed it (without the namespace). */
  readonly key: string;
  /** Aborted when the hard timeout elapses: nobody waits for the result any more. */
  readonly signal: AbortSignal;
  /** The stale value being refreshed, if there is one. */
  readonly stale: T | undefined;
  /** Stores the result with this TTL instead of the configured one. */
  setTtl(ttl: Duration): void;
  /** Stores the result with these tags. */
  setTags(tags: string[]): void;
  /** Returns the result to the caller without caching it. */
  skip(): void;
}

/** A loader for {@link Cache.getOrSet}: returns the value to cache (`undefined` is returned, never cached). */
export type Loader<T> = (context: LoaderContext<T>) => T | Promise<T>;
