/** A value or a promise of it: stores may answer synchronously (the in-process fast path). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A duration: milliseconds as a number, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'2d'`.
 * Never seconds: `3600` means 3.6 seconds.
 */
export type Duration = number | string;

/** One cached value with the metadata the cache needs to decide whether it may be served. */
export interface CacheEntry<V = unknown> {
  /** The cached value (`null` is a value; `undefined` is never stored). */
  value: V;
  /** Logical expiry in ms since the epoch; past it the entry is stale. */
  expiresAt: number;
  /** End of grace in ms since the epoch: a stale entry may be served until then if the loader fails. */
  staleUntil?: number;
  /** Tags the entry was stored with. */
  tags?: string[];
  /** The version the entry was stored with. */
  version?: number | string;
  /**
   * When the value was read from its source (for a loaded value, when the loader started), as
   * a stamp of the store's (see {@link CacheStore.stamp}) or in ms since the epoch. Set on
   * tagged entries: a tag invalidated after it voids the entry.
   */
  createdAt?: number;
}

/** How a write reaches a store: {@link CacheStore.set}'s options. */
export interface StoreWriteOptions {
  /**
   * The write stores a loaded value, read from its source no earlier than `since`, a moment on
   * this process's monotonic clock in ms (`performance.timeOrigin + performance.now()`). A
   * store shared by processes may refuse it when the key was deleted or written (or the store
   * cleared) at or after that moment, by any process: the value may be older than that write.
   * So a load that read the database before another process's update cannot store its old value
   * after that process's invalidation (`@cache/redis` keeps such fences; in-process stores need
   * none, the cache's own write barrier orders their writes).
   */
  since?: number;
}

/**
 * The one contract every store implements. A store keeps an entry until
 * `entry.staleUntil ?? entry.expiresAt` and is otherwise dumb: policy lives in `createCache`.
 */
export interface CacheStore {
  /** A short name used in events and errors, such as `'memory'` or `'redis'`. */
  readonly name: string;
  /** Returns the entry, or `undefined` when it is missing or past `staleUntil ?? expiresAt`. */
  get(key: string): MaybePromise<CacheEntry | undefined>;
  /** Returns one slot per key, in order, `undefined` for a miss. */
  getMany?(keys: string[]): MaybePromise<(CacheEntry | undefined)[]>;
  /**
   * Stores the entry, replacing any previous one; rejects when the store cannot take it. With
   * `options.since` (a load's write), a store shared by processes may refuse it (see
   * {@link StoreWriteOptions}); it then resolves without storing.
   */
  set(key: string, entry: CacheEntry, options?: StoreWriteOptions): MaybePromise<void>;
  /** Stores every entry. */
  setMany?(entries: [key: string, entry: CacheEntry][]): MaybePromise<void>;
  /** Removes the key; returns whether it existed. */
  delete(key: string): MaybePromise<boolean>;
  /** Removes the keys; returns how many existed. */
  deleteMany?(keys: string[]): MaybePromise<number>;
  /**
   * Soft invalidation: rewrites the entries of `keys` with `expiresAt` set to
   * `SOFT_EXPIRED` (0, long past), keeping the rest (the physical expiry at `staleUntil` included), so a
   * cache serves them only as a grace fallback; an entry without `staleUntil` is removed.
   * Atomic per key against concurrent writes. Returns how many existed. A store without it gets
   * `deleteMany` instead (hard invalidation).
   */
  expire?(keys: string[]): MaybePromise<number>;
  /**
   * {@link CacheStore.expire} for every key that starts with `prefix` (every key with `''`), but
   * never the cache's own records (keys starting with `__cache:`), whatever the prefix. A store
   * without it gets `clear(prefix)` instead.
   */
  expirePrefix?(prefix: string): MaybePromise<void>;
  /**
   * Removes every key that starts with `prefix` but never the cache's own records (keys starting
   * with `__cache:`, such as tag records), whatever the prefix; without one (or with `''`),
   * removes every key of this store, records included.
   */
  clear(prefix?: string): MaybePromise<void>;
  /**
   * Removes every key matching a Redis-style glob (`*`, `?`, `[...]`, `\\` escapes; see
   * `globToRegExp`) but never the cache's own records (keys starting with `__cache:`), even when
   * they match; returns how many it removed.
   */
  deletePattern?(pattern: string): MaybePromise<number>;
  /**
   * Calls `listener` with invalidations that reach this store from other processes (a
   * multilevel store's bus), so the cache can void loads in flight. Returns an unsubscribe function.
   */
  subscribe?(listener: (message: InvalidationMessage) => void): () => void;
  /**
   * A number greater than every one it returned before, to any process sharing the store (a
   * Redis store reads it off the Redis server's clock: one clock for all processes). Tag
   * invalidations are stamped with it, so their order against loads holds without synchronized
   * clocks; without it, the process's wall clock stamps them.
   */
  stamp?(): Promise<number>;
  /**
   * Writes the cache's tag records (keys under `__cache:tag:`) unless what is stored is newer:
   * each key ends with what `mergeTagRecord` of `@cache/core` makes of the stored record and the
   * new one (the later stamp of each kind, the longer life), atomically per key against every
   * other write of it, by any process. Tag invalidations write through it, so one that lands
   * late never lowers another's stamps; without it they read the record and write it over.
   */
  mergeTagRecords?(records: [key: string, entry: CacheEntry][]): MaybePromise<void>;
  /** Releases connections and timers; the store is unusable afterwards. */
  close?(): Promise<void>;
  /**
   * Returns a view of this store that encodes values with `serializer`. Stores that keep live
   * values in process (the default memory store) leave it out.
   */
  withSerializer?(serializer: Serializer): CacheStore;
}

/** Turns values into text and back. Must round-trip every value the application caches. */
export interface Serializer {
  /** A short name, such as `'devalue'` or `'json'`. */
  readonly name: string;
  /** Encodes the value; throws when it cannot be encoded. */
  serialize(value: unknown): string;
  /** Decodes text produced by {@link Serializer.serialize}. */
  deserialize(text: string): unknown;
}

/** A lock held on one key; release it when the protected work is done. */
export interface LockHandle {
  /** Releases the lock if this holder still owns it; never throws for an expired lock. */
  release(): Promise<void>;
  /** Extends the lock by `ttl` ms if this holder still owns it; returns whether it did. */
  extend?(ttl: number): Promise<boolean>;
}

/**
 * A lock shared by several processes (for example `redisLock` from `@cache/redis`), used by
 * `getOrSet` so that only one process runs the loader of a cold key.
 */
export interface CacheLock {
  /**
   * Acquires the lock on `key` for `ttl` ms, waiting up to `timeout` ms. Resolves `undefined`
   * when the wait timed out or `signal` aborted.
   */
  acquire(
    key: string,
    options: { ttl: number; timeout: number; signal?: AbortSignal },
  ): Promise<LockHandle | undefined>;
}

/** An invalidation passed between processes that share lower tiers (see `@cache/multilevel`). */
export interface InvalidationMessage {
  /**
   * `'delete'`: drop `keys`; `'clear'`: drop every key under `prefix` (all without one);
   * `'pattern'`: drop keys matching the glob `pattern`; `'tags'`: `tags` were invalidated.
   */
  type: 'delete' | 'clear' | 'pattern' | 'tags';
  /**
   * `'expire'` on a `'delete'` or `'clear'`: the entries were invalidated softly (see
   * {@link CacheStore.expire}), so a receiver may keep them as grace fallbacks; one that does
   * not know the field drops them, which is always safe.
   */
  mode?: 'expire';
  /** The keys to drop, for `'delete'`. */
  keys?: string[];
  /** The prefix to clear, for `'clear'`. */
  prefix?: string;
  /** The glob, for `'pattern'`. */
  pattern?: string;
  /** The tags invalidated, for `'tags'`. */
  tags?: string[];
}

/**
 * Carries {@link InvalidationMessage}s between processes, such as `redisBus` from
 * `@cache/redis`. A bus never delivers a message to the instance that published it.
 */
export interface InvalidationBus {
  /** Sends the message to every other instance; rejects when it could not be sent. */
  publish(message: InvalidationMessage): Promise<void>;
  /** Calls `handler` with every message from other instances; resolves to an unsubscribe function. */
  subscribe(handler: (message: InvalidationMessage) => void): Promise<() => void>;
  /**
   * `'reconnect'`: the bus was disconnected and may have missed messages (a consumer distrusts
   * what it holds locally). `'resume'`: the bus was disconnected and has delivered what it missed
   * (a bus that cannot replay never emits it). Returns a function that removes the listener.
   */
  on(event: 'reconnect' | 'resume', listener: () => void): () => void;
  /** Closes its connections; a multilevel store calls it from its own `close()`. */
  close?(): Promise<void>;
}
