import { EventEmitter } from 'node:events';
import { coarseNow } from './clock.js';
import { parseDuration } from './duration.js';
import {
  CacheInconsistencyError,
  InvalidArgumentError,
  LoaderError,
  LoaderTimeoutError,
  SerializationError,
  StoreError,
} from './errors.js';
import type { EventSource } from './eventSource.js';
import type {
  CacheEvents,
  CacheListener,
  CacheOperation,
  CacheStats,
  StaleReason,
} from './events.js';
import { escapeGlob, globToRegExp } from './glob.js';
import {
  type Plan,
  type Policy,
  resolvePlan,
  resolvePolicy,
  type TimeoutOptions,
} from './policy.js';
import { checkTags, RESERVED_PREFIX, stamp, TagRecords, tagKey } from './tags.js';
import type {
  CacheEntry,
  CacheLock,
  CacheStore,
  Duration,
  InvalidationMessage,
  LockHandle,
  Serializer,
} from './types.js';

/** Options of {@link createCache}. Durations are ms or strings such as `'30s'`, `'1h'`. */
export interface CacheOptions {
  /** Where entries live: `memoryStore()`, `redisStore()`, `multilevel()` or any {@link CacheStore}. */
  store: CacheStore;
  /** How long a value stays fresh. `0` means values are not cached. @default '1h' */
  ttl?: Duration;
  /**
   * Spread each TTL uniformly by ± this much (at most half the TTL), so keys written together do
   * not expire together. The seed's `ttl: '1h', jitter: '5m'` gives 55 to 65 minutes. @default 0
   */
  jitter?: Duration;
  /** How long past its TTL a value may still be served when the loader fails or is slow. @default false */
  grace?: Duration | false;
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
  /** How long `getOrSet` waits for the shared lock before loading anyway. @default '10s' */
  lockTimeout?: Duration;
  /** How long the shared lock is held at most. @default '30s' */
  lockTtl?: Duration;
  /**
   * How long a tag invalidation is remembered. Entries carrying a tag must not live longer
   * (TTL plus grace) than this, or an invalidated entry could come back. @default '30d'
   */
  tagTtl?: Duration;
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
  /** How long the value stays fresh. @default the cache's `ttl` */
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

interface Shared {
  readonly store: CacheStore;
  readonly policy: Policy;
  readonly emitter: EventEmitter;
  readonly listening: Record<keyof CacheEvents, boolean>;
  readonly counters: Omit<CacheStats, 'inflight'>;
  readonly inflight: Map<string, Flight>;
  readonly tagRecords: TagRecords;
  readonly unsubscribe: (() => void) | undefined;
}

// One loader call in progress. `voided` is set when the key is deleted, overwritten or
// invalidated meanwhile: the loader's result is then returned to its callers but not stored.
interface Flight {
  readonly key: string;
  voided: boolean;
  promise: Promise<unknown>;
}

const EVENT_NAMES: (keyof CacheEvents)[] = [
  'hit',
  'miss',
  'stale',
  'set',
  'delete',
  'clear',
  'invalidate',
  'error',
];

/**
 * Creates a {@link Cache} over a store. Throws {@link InvalidArgumentError} naming the option
 * for a missing store or an unreadable duration.
 *
 * @example
 * const cache = createCache({ store: memoryStore(), ttl: '10m', grace: '1h' });
 * const user = await cache.getOrSet(`user:${id}`, () => db.users.find(id));
 */
export function createCache(options: CacheOptions): Cache {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', 'expected an object with a store');
  }
  const { store, serializer } = options;
  if (store === null || typeof store !== 'object' || typeof store.get !== 'function') {
    throw new InvalidArgumentError(
      'store',
      'expected a CacheStore (an object with get/set/delete/clear)',
    );
  }
  if (serializer !== undefined && typeof serializer?.serialize !== 'function') {
    throw new InvalidArgumentError(
      'serializer',
      'expected an object with serialize and deserialize',
    );
  }
  const emitter = new EventEmitter();
  const inflight = new Map<string, Flight>();
  const target = serializer && store.withSerializer ? store.withSerializer(serializer) : store;
  const tagRecords = TagRecords.of(store, target);
  const shared: Shared = {
    store: target,
    policy: resolvePolicy(options),
    emitter,
    listening: Object.fromEntries(EVENT_NAMES.map((name) => [name, false])) as Shared['listening'],
    counters: {
      hits: 0,
      misses: 0,
      staleHits: 0,
      sets: 0,
      deletes: 0,
      loads: 0,
      loadErrors: 0,
      errors: 0,
      droppedWrites: 0,
    },
    inflight,
    // Invalidations from other processes void this process's loads of the same keys.
    tagRecords,
    unsubscribe: target.subscribe?.((message) => voidFlights(inflight, matcherOf(message))),
  };
  const prefix = options.namespace === undefined ? '' : namespacePrefix('', options.namespace);
  return new Cache(shared, prefix, []);
}

/**
 * A cache over one store: cache-aside reads and writes, read-through `getOrSet` with one loader
 * call per key however many callers wait, grace, timeouts, namespaces, events and stats.
 * Store failures never reject a read (it falls back to the loader) and never reject a write (it
 * resolves `false` and emits `error`). Create it with {@link createCache}.
 */
export class Cache {
  readonly #shared: Shared;
  readonly #store: CacheStore;
  // The shared counters and listener flags, held directly for the hit path.
  readonly #counters: Shared['counters'];
  readonly #listening: Shared['listening'];
  readonly #prefix: string;
  // Tags every entry written through this view gets: one per versioned namespace it is in.
  readonly #scopeTags: string[];

  /** @internal Use {@link createCache} or {@link Cache.namespace}. */
  constructor(shared: Shared, prefix: string, scopeTags: string[]) {
    this.#shared = shared;
    this.#store = shared.store;
    this.#counters = shared.counters;
    this.#listening = shared.listening;
    this.#prefix = prefix;
    this.#scopeTags = scopeTags;
  }

  /** The prefix this cache puts before every key (`''`, or `'users:'` for a namespace). */
  get prefix(): string {
    return this.#prefix;
  }

  /** The store this cache writes to. */
  get store(): CacheStore {
    return this.#store;
  }

  /**
   * Returns the cached value, or loads it with `loader`, caches and returns it. Concurrent
   * callers of one key share one loader call. When the loader throws or times out and a value
   * is within grace, the stale value is returned; otherwise it rejects with {@link LoaderError}
   * or {@link LoaderTimeoutError}. A `null` result is cached (for `negativeTtl`), `undefined` is not.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    if (typeof key !== 'string' || key.length === 0) return Promise.reject(invalidKey(key));
    if (typeof loader !== 'function') {
      return Promise.reject(
        new InvalidArgumentError('loader', `expected a function, got ${typeof loader}`),
      );
    }
    const fullKey = this.#prefix === '' ? key : this.#prefix + key;
    let found: ReturnType<CacheStore['get']>;
    try {
      found = this.#store.get(fullKey);
    } catch (error) {
      found = Promise.reject(error);
    }
    // The L1 fast path: a synchronous store answered with a fresh entry.
    if (
      found !== undefined &&
      (found as CacheEntry).expiresAt > coarseNow() &&
      (options?.version === undefined || (found as CacheEntry).version === options.version) &&
      ((found as CacheEntry).tags === undefined || this.#tagsHold(found as CacheEntry) === true)
    ) {
      this.#counters.hits++;
      if (this.#listening.hit) this.#emit('hit', { key: fullKey, store: this.#store.name });
      return Promise.resolve((found as CacheEntry<T>).value);
    }
    return this.#getOrLoad(fullKey, found, loader, options);
  }

  /** Returns the fresh value of `key`, or `undefined` when it is missing, expired, of another version or the store failed. */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    const fullKey = this.#key(key);
    const entry = await this.#fresh(fullKey, await this.#read(fullKey), options?.version);
    return entry?.value as T | undefined;
  }

  /** Returns whether `key` holds a fresh value (of `options.version`, when given). */
  async has(key: string, options?: GetOptions): Promise<boolean> {
    const fullKey = this.#key(key);
    return (await this.#fresh(fullKey, await this.#read(fullKey), options?.version)) !== undefined;
  }

  /**
   * Stores `value` under `key`. Resolves `true` once stored, `false` when the store failed
   * (an `error` event says why). Rejects with {@link InvalidArgumentError} for a bad key, TTL or
   * an `undefined` value, and with {@link SerializationError} for a value the serializer cannot encode.
   */
  async set(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    const fullKey = this.#key(key);
    const entry = this.#entry(value, resolvePlan(this.#shared.policy, options), undefined);
    if (entry === undefined) return this.#remove(fullKey);
    voidFlights(this.#shared.inflight, (k) => k === fullKey);
    return this.#write(fullKey, entry, true);
  }

  /** Deletes `key`. Resolves whether it existed; `false` also when the store failed (an `error` event says so). */
  async delete(key: string): Promise<boolean> {
    return this.#remove(this.#key(key));
  }

  /** Returns the fresh values of `keys`, in order, `undefined` for each miss. */
  async getMany<T = unknown>(keys: string[], options?: GetOptions): Promise<(T | undefined)[]> {
    const fullKeys = this.#keys(keys);
    let entries: (CacheEntry | undefined)[];
    try {
      entries = this.#store.getMany
        ? await this.#store.getMany(fullKeys)
        : await Promise.all(fullKeys.map((k) => this.#store.get(k)));
    } catch (error) {
      this.#error(error, 'get', undefined, false);
      entries = [];
    }
    const fresh = await Promise.all(
      fullKeys.map((k, i) => this.#fresh(k, entries[i], options?.version)),
    );
    return fresh.map((entry) => entry?.value as T | undefined);
  }

  /**
   * Stores several values. Resolves `false` when the store failed (an `error` event says why).
   * Items whose TTL is `0` are deleted instead.
   */
  async setMany(items: [key: string, value: unknown, options?: SetOptions][]): Promise<boolean> {
    if (!Array.isArray(items))
      throw new InvalidArgumentError('items', 'expected an array of [key, value, options?]');
    const writes: [string, CacheEntry][] = [];
    const removals: string[] = [];
    for (const [key, value, options] of items) {
      const fullKey = this.#key(key);
      const entry = this.#entry(value, resolvePlan(this.#shared.policy, options), undefined);
      if (entry === undefined) removals.push(fullKey);
      else writes.push([fullKey, entry]);
    }
    if (removals.length > 0) await this.#removeMany(removals);
    const written = new Set(writes.map(([k]) => k));
    voidFlights(this.#shared.inflight, (k) => written.has(k));
    try {
      if (this.#store.setMany) await this.#store.setMany(writes);
      else await Promise.all(writes.map(([k, e]) => this.#store.set(k, e)));
    } catch (error) {
      if (error instanceof SerializationError) throw error;
      this.#error(error, 'set', undefined, true);
      return false;
    }
    this.#shared.counters.sets += writes.length;
    if (this.#shared.listening.set) {
      for (const [key, entry] of writes) this.#emit('set', { key, store: this.#store.name, entry });
    }
    return true;
  }

  /** Deletes several keys; resolves how many existed (`0` when the store failed). */
  async deleteMany(keys: string[]): Promise<number> {
    return this.#removeMany(this.#keys(keys));
  }

  /** Removes every key of this cache: the whole store, or only this namespace's keys. */
  async clear(): Promise<void> {
    await this.#clear(this.#prefix);
  }

  /**
   * Returns a view of this cache whose keys are prefixed with `name:`; it shares store, events
   * and stats. A `versioned` namespace can be invalidated as a whole in O(1).
   */
  namespace(name: string, options?: NamespaceOptions): Cache {
    const prefix = namespacePrefix(this.#prefix, name);
    const scopeTags = options?.versioned ? [...this.#scopeTags, `__ns:${prefix}`] : this.#scopeTags;
    return new Cache(this.#shared, prefix, scopeTags);
  }

  /**
   * Invalidates every entry carrying one of `tags`, in every tier and every process sharing
   * the store, without scanning keys: the invalidation time is stored per tag and checked when
   * a tagged entry is read. A load in flight meanwhile is not served afterwards. Resolves
   * `false` when the store failed (an `error` event says why).
   */
  async invalidateTags(tags: string[]): Promise<boolean> {
    checkTags(tags);
    return this.#invalidate(tags);
  }

  /**
   * Invalidates every entry of this namespace. For a namespace opened with `versioned: true`
   * this bumps its version (O(1), across tiers and processes); otherwise it clears the prefix.
   */
  async invalidate(): Promise<boolean> {
    const own = this.#scopeTags.at(-1);
    if (own === `__ns:${this.#prefix}`) return this.#invalidate([own]);
    await this.clear();
    return true;
  }

  /**
   * Event-driven invalidation: for each event of `source`, runs its handler and deletes the
   * keys, invalidates the tags, clears the prefixes and deletes the patterns it returns. A
   * handler that throws, or an invalidation that fails, is an `error` event (operation
   * `'invalidate'`), never a crash. Resolves, once listening, to a function that stops it.
   *
   * @example
   * const stop = await cache.invalidateOn(fromEventEmitter(bus), {
   *   'user.updated': (e) => [`user:${e.userId}`, `user_profile:${e.userId}`],
   *   'user.deleted': (e) => ({ patterns: [`*:${e.userId}:*`] }),
   * });
   */
  async invalidateOn(source: EventSource, handlers: InvalidationHandlers): Promise<() => void> {
    if (source === null || typeof source?.subscribe !== 'function') {
      throw new InvalidArgumentError(
        'source',
        'expected an EventSource with subscribe(event, listener)',
      );
    }
    if (handlers === null || typeof handlers !== 'object') {
      throw new InvalidArgumentError('handlers', 'expected an object of event handlers');
    }
    const stops = await Promise.all(
      Object.entries(handlers).map(([event, handler]) => {
        if (typeof handler !== 'function') {
          throw new InvalidArgumentError(`handlers.${event}`, 'expected a function');
        }
        return source.subscribe(event, (payload) => {
          this.#follow(handler, payload).catch((error: unknown) =>
            this.#error(error, 'invalidate', event, false),
          );
        });
      }),
    );
    return () => {
      for (const stop of stops) stop();
    };
  }

  // Applies what an invalidation handler returned; store failures are already error events.
  async #follow(handler: InvalidationHandlers[string], payload: unknown): Promise<void> {
    const target = await handler(payload);
    if (target === undefined) return;
    const { keys, tags, prefixes, patterns } =
      typeof target === 'string' || Array.isArray(target)
        ? { keys: typeof target === 'string' ? [target] : target }
        : (target as Exclude<InvalidationTarget, string | string[] | undefined | void>);
    await Promise.all([
      keys?.length ? this.deleteMany(keys) : undefined,
      tags?.length ? this.invalidateTags(tags) : undefined,
      ...(prefixes ?? []).map((prefix) => this.#clear(this.#prefix + prefix)),
      ...(patterns ?? []).map((pattern) => this.deletePattern(pattern)),
    ]);
  }

  /**
   * Deletes every key of this cache (or namespace) matching a Redis-style glob, such as the
   * seed's `'*:123:*'` (`*`, `?`, `[...]`, and a backslash escapes). Resolves how many were
   * deleted, `0` when the store failed. Rejects with {@link StoreError} (`E_UNSUPPORTED`) for a
   * store without `deletePattern`.
   */
  async deletePattern(pattern: string): Promise<number> {
    const matches = globToRegExp(pattern);
    const full = escapeGlob(this.#prefix) + pattern;
    if (typeof this.#store.deletePattern !== 'function') {
      throw new StoreError(this.#store.name, 'this store cannot delete by pattern', {
        code: 'E_UNSUPPORTED',
      });
    }
    voidFlights(
      this.#shared.inflight,
      (k) => k.startsWith(this.#prefix) && matches.test(k.slice(this.#prefix.length)),
    );
    try {
      // A pattern at the root may match tag records too.
      if (this.#prefix === '') this.#shared.tagRecords.clear();
      const count = await this.#store.deletePattern(full);
      this.#shared.counters.deletes += count;
      if (this.#shared.listening.invalidate) {
        this.#emit('invalidate', { pattern: full, store: this.#store.name });
      }
      return count;
    } catch (error) {
      this.#error(error, 'delete', full, true);
      return 0;
    }
  }

  /**
   * Write-through: runs `persist` (the database write) first, then stores `value`. If the cache
   * write fails the key is deleted so the old value is never served; if that fails too it rejects
   * with {@link CacheInconsistencyError}. A failing `persist` rejects and leaves the cache untouched.
   * Resolves what `persist` returned.
   */
  async writeThrough<R>(
    key: string,
    value: unknown,
    persist: (value: unknown) => R | Promise<R>,
    options?: SetOptions,
  ): Promise<R> {
    const fullKey = this.#key(key);
    const entry = this.#entry(value, resolvePlan(this.#shared.policy, options), undefined);
    const result = await persist(value);
    if (entry !== undefined && (await this.#write(fullKey, entry, false))) return result;
    try {
      await this.#store.delete(fullKey);
    } catch (error) {
      throw new CacheInconsistencyError(fullKey, error);
    }
    return result;
  }

  /** Subscribes to an event. */
  on<E extends keyof CacheEvents>(event: E, listener: CacheListener<E>): this {
    this.#shared.emitter.on(event, listener);
    this.#shared.listening[event] = true;
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends keyof CacheEvents>(event: E, listener: CacheListener<E>): this {
    this.#shared.emitter.once(event, listener);
    this.#shared.listening[event] = true;
    return this;
  }

  /** Unsubscribes a listener. */
  off<E extends keyof CacheEvents>(event: E, listener: CacheListener<E>): this {
    this.#shared.emitter.off(event, listener);
    this.#shared.listening[event] = this.#shared.emitter.listenerCount(event) > 0;
    return this;
  }

  /** A snapshot of the counters, shared by every namespace of this cache. */
  stats(): CacheStats {
    return { ...this.#shared.counters, inflight: this.#shared.inflight.size };
  }

  /** Closes the store (connections, timers). */
  async close(): Promise<void> {
    this.#shared.unsubscribe?.();
    await this.#store.close?.();
  }

  async #getOrLoad<T>(
    fullKey: string,
    found: ReturnType<CacheStore['get']>,
    loader: Loader<T>,
    options: GetOrSetOptions | undefined,
  ): Promise<T> {
    const version = options?.version;
    let entry = await this.#settle(fullKey, found);
    if (entry !== undefined && !(await this.#holds(entry, version))) entry = undefined;
    if (entry !== undefined && entry.expiresAt > Date.now()) {
      this.#shared.counters.hits++;
      if (this.#shared.listening.hit) this.#emit('hit', { key: fullKey, store: this.#store.name });
      return entry.value as T;
    }
    this.#shared.counters.misses++;
    if (this.#shared.listening.miss) this.#emit('miss', { key: fullKey, store: this.#store.name });
    const flightKey = version === undefined ? fullKey : `${fullKey}\u0000${String(version)}`;
    const running = this.#shared.inflight.get(flightKey);
    if (running !== undefined) return running.promise as Promise<T>;
    const plan = resolvePlan(this.#shared.policy, options);
    const flight = this.#fly(fullKey, flightKey, entry as CacheEntry<T> | undefined, loader, plan);
    return flight;
  }

  // Starts the one loader call of a key and returns what every waiter receives.
  #fly<T>(
    fullKey: string,
    flightKey: string,
    stale: CacheEntry<T> | undefined,
    loader: Loader<T>,
    plan: Plan,
  ): Promise<T> {
    const { inflight, counters } = this.#shared;
    const controller = new AbortController();
    const context = new Context<T>(
      fullKey.slice(this.#prefix.length),
      controller.signal,
      stale?.value,
    );
    counters.loads++;
    const flight: Flight = { key: fullKey, voided: false, promise: undefined as never };
    const loading = this.#load(fullKey, loader, context, plan, flight);
    const outcome = this.#guard(fullKey, loading, stale, plan, controller);
    flight.promise = outcome;
    inflight.set(flightKey, flight);
    const done = () => {
      if (inflight.get(flightKey) === flight) inflight.delete(flightKey);
    };
    loading.then(done, done);
    return outcome;
  }

  // Runs the loader (under the shared lock, if any) and stores what it returns.
  async #load<T>(
    fullKey: string,
    loader: Loader<T>,
    context: Context<T>,
    plan: Plan,
    flight: Flight,
  ): Promise<T> {
    let handle: LockHandle | undefined;
    if (plan.lock) {
      try {
        handle = await plan.lock.acquire(fullKey, {
          ttl: plan.lockTtl,
          timeout: plan.lockTimeout,
          signal: context.signal,
        });
      } catch (error) {
        this.#error(error, 'lock', fullKey, false);
      }
      // Another process may have loaded the key while this one waited for the lock.
      const loaded = await this.#fresh(fullKey, await this.#read(fullKey), plan.version);
      if (loaded !== undefined) {
        this.#release(handle, fullKey);
        return loaded.value as T;
      }
    }
    try {
      let value: T;
      try {
        value = await loader(context);
      } catch (error) {
        this.#shared.counters.loadErrors++;
        throw new LoaderError(context.key, error);
      }
      if (!context.skipped && !flight.voided) {
        const entry = this.#entry(value, plan, context);
        if (entry !== undefined) await this.#write(fullKey, entry, false);
      }
      return value;
    } finally {
      this.#release(handle, fullKey);
    }
  }

  // Applies timeouts and grace to a loader call: what a caller gets, and when.
  #guard<T>(
    fullKey: string,
    loading: Promise<T>,
    stale: CacheEntry<T> | undefined,
    plan: Plan,
    controller: AbortController,
  ): Promise<T> {
    const { soft, hard } = plan;
    if (stale === undefined && hard === undefined) return loading;
    return new Promise<T>((resolve, reject) => {
      let answered = false;
      let softTimer: NodeJS.Timeout | undefined;
      let hardTimer: NodeJS.Timeout | undefined;
      const answer = (settle: () => void) => {
        if (answered) return;
        answered = true;
        clearTimeout(softTimer);
        settle();
      };
      const serveStale = (reason: StaleReason) =>
        answer(() => resolve(this.#serveStale(fullKey, stale!, reason, plan)));
      loading.then(
        (value) => {
          clearTimeout(hardTimer);
          answer(() => resolve(value));
        },
        (error) => {
          clearTimeout(hardTimer);
          if (answered) return;
          if (stale !== undefined) {
            this.#error(error, 'loader', fullKey, false);
            serveStale('loader-error');
          } else answer(() => reject(error));
        },
      );
      if (stale !== undefined && soft !== undefined) {
        softTimer = setTimeout(() => serveStale('soft-timeout'), soft);
      }
      if (hard !== undefined) {
        hardTimer = setTimeout(() => {
          const timeout = new LoaderTimeoutError(fullKey.slice(this.#prefix.length), hard);
          controller.abort(timeout);
          if (answered) return;
          this.#shared.counters.loadErrors++;
          if (stale !== undefined) serveStale('hard-timeout');
          else answer(() => reject(timeout));
        }, hard);
      }
    });
  }

  #serveStale<T>(fullKey: string, stale: CacheEntry<T>, reason: StaleReason, plan: Plan): T {
    this.#shared.counters.staleHits++;
    if (this.#shared.listening.stale) {
      this.#emit('stale', { key: fullKey, store: this.#store.name, reason, entry: stale });
    }
    if (reason === 'loader-error' && plan.graceBackoff > 0) {
      // Serve the stale value as if fresh for a while instead of calling a failing loader on every request.
      const until = Date.now() + plan.graceBackoff;
      const expiresAt = stale.staleUntil === undefined ? until : Math.min(until, stale.staleUntil);
      void this.#write(fullKey, { ...stale, expiresAt }, false);
    }
    return stale.value;
  }

  #entry(
    value: unknown,
    plan: Plan,
    context: Context<unknown> | undefined,
  ): CacheEntry | undefined {
    if (value === undefined) {
      if (context !== undefined) return undefined;
      throw new InvalidArgumentError('value', 'undefined is never cached; delete the key instead');
    }
    const ttlOfValue = context?.ttl ?? plan.ttl;
    let ttl = value === null ? (plan.negativeTtl ?? ttlOfValue) : ttlOfValue;
    if (ttl === 0) return undefined;
    if (plan.jitter > 0) {
      // Never spread by more than half the TTL, so a short per-call TTL stays short.
      const spread = Math.min(plan.jitter, ttl / 2);
      ttl = Math.max(1, Math.round(ttl + (Math.random() * 2 - 1) * spread));
    }
    const entry: CacheEntry = { value, expiresAt: Date.now() + ttl };
    if (plan.grace > 0) entry.staleUntil = entry.expiresAt + plan.grace;
    const own = context?.tags ?? plan.tags;
    const tags = this.#scopeTags.length === 0 ? own : [...this.#scopeTags, ...(own ?? [])];
    if (tags !== undefined && tags.length > 0) {
      entry.tags = tags;
      // A load counts from when it started: a tag invalidated while it ran voids its result.
      entry.createdAt = context?.startedAt ?? stamp();
    }
    if (plan.version !== undefined) entry.version = plan.version;
    return entry;
  }

  async #settle(
    fullKey: string,
    found: ReturnType<CacheStore['get']>,
  ): Promise<CacheEntry | undefined> {
    let entry: CacheEntry | undefined;
    try {
      entry = await found;
    } catch (error) {
      this.#error(error, 'get', fullKey, false);
      return undefined;
    }
    if (entry !== undefined && (entry === null || typeof entry.expiresAt !== 'number')) {
      throw new StoreError(
        this.#store.name,
        `get("${fullKey}") returned ${entry === null ? 'null' : typeof entry} instead of a CacheEntry or undefined`,
        { code: 'E_STORE_CONTRACT' },
      );
    }
    return entry;
  }

  #read(fullKey: string): Promise<CacheEntry | undefined> {
    let found: ReturnType<CacheStore['get']>;
    try {
      found = this.#store.get(fullKey);
    } catch (error) {
      found = Promise.reject(error);
    }
    return this.#settle(fullKey, found);
  }

  async #fresh(
    fullKey: string,
    found: CacheEntry | undefined,
    version: number | string | undefined,
  ): Promise<CacheEntry | undefined> {
    const entry = found !== undefined && (await this.#holds(found, version)) ? found : undefined;
    const { counters, listening } = this.#shared;
    if (entry !== undefined && entry.expiresAt > Date.now()) {
      counters.hits++;
      if (listening.hit) this.#emit('hit', { key: fullKey, store: this.#store.name });
      return entry;
    }
    counters.misses++;
    if (listening.miss) this.#emit('miss', { key: fullKey, store: this.#store.name });
    return undefined;
  }

  // Whether an entry may be used at all: of the asked version, and not voided by a tag.
  async #holds(entry: CacheEntry, version: number | string | undefined): Promise<boolean> {
    if (version !== undefined && entry.version !== version) return false;
    if (entry.tags === undefined) return true;
    try {
      return !(await this.#shared.tagRecords.voids(entry));
    } catch (error) {
      // Without the tag records the entry cannot be trusted: treat it as a miss.
      this.#error(error, 'get', undefined, false);
      return false;
    }
  }

  // The synchronous tag check of the fast path: undefined when the store answers asynchronously.
  #tagsHold(entry: CacheEntry): boolean | undefined {
    try {
      const voided = this.#shared.tagRecords.voids(entry);
      if (typeof voided === 'boolean') return !voided;
      voided.catch(() => {});
    } catch {
      // The slow path reads the tag records again and reports the failure.
    }
    return undefined;
  }

  async #invalidate(tags: string[]): Promise<boolean> {
    const now = stamp();
    const record: CacheEntry = { value: now, expiresAt: now + this.#shared.policy.tagTtl };
    const writes = tags.map((tag): [string, CacheEntry] => [tagKey(tag), record]);
    // Known here at once, even if the store write below fails: better a reload than a stale hit.
    this.#shared.tagRecords.invalidated(tags, now);
    try {
      if (this.#store.setMany) await this.#store.setMany(writes);
      else await Promise.all(writes.map(([k, e]) => this.#store.set(k, e)));
    } catch (error) {
      this.#error(error, 'set', undefined, true);
      return false;
    }
    if (this.#shared.listening.invalidate) {
      this.#emit('invalidate', { tags, store: this.#store.name });
    }
    return true;
  }

  // Stores an entry. Store failures resolve false (and emit); a serializer failure throws when `strict`.
  async #write(fullKey: string, entry: CacheEntry, strict: boolean): Promise<boolean> {
    try {
      await this.#store.set(fullKey, entry);
    } catch (error) {
      if (strict && error instanceof SerializationError) throw error;
      const operation = error instanceof SerializationError ? 'serialize' : 'set';
      this.#error(error, operation, fullKey, true);
      return false;
    }
    this.#shared.counters.sets++;
    if (this.#shared.listening.set)
      this.#emit('set', { key: fullKey, store: this.#store.name, entry });
    return true;
  }

  async #remove(fullKey: string): Promise<boolean> {
    voidFlights(this.#shared.inflight, (k) => k === fullKey);
    try {
      const existed = await this.#store.delete(fullKey);
      this.#shared.counters.deletes++;
      if (this.#shared.listening.delete)
        this.#emit('delete', { key: fullKey, store: this.#store.name });
      return existed;
    } catch (error) {
      this.#error(error, 'delete', fullKey, true);
      return false;
    }
  }

  async #clear(fullPrefix: string): Promise<void> {
    const prefix = fullPrefix === '' ? undefined : fullPrefix;
    voidFlights(this.#shared.inflight, (k) => k.startsWith(fullPrefix));
    if (fullPrefix === '') this.#shared.tagRecords.clear();
    try {
      await this.#store.clear(prefix);
      if (this.#shared.listening.clear) this.#emit('clear', { prefix, store: this.#store.name });
    } catch (error) {
      this.#error(error, 'clear', prefix, true);
    }
  }

  async #removeMany(fullKeys: string[]): Promise<number> {
    const removed = new Set(fullKeys);
    voidFlights(this.#shared.inflight, (k) => removed.has(k));
    try {
      const count = this.#store.deleteMany
        ? await this.#store.deleteMany(fullKeys)
        : (await Promise.all(fullKeys.map((k) => this.#store.delete(k)))).filter(Boolean).length;
      this.#shared.counters.deletes += fullKeys.length;
      if (this.#shared.listening.delete) {
        for (const key of fullKeys) this.#emit('delete', { key, store: this.#store.name });
      }
      return count;
    } catch (error) {
      this.#error(error, 'delete', undefined, true);
      return 0;
    }
  }

  #release(handle: LockHandle | undefined, fullKey: string): void {
    handle?.release().catch((error: unknown) => this.#error(error, 'lock', fullKey, false));
  }

  #key(key: string): string {
    if (typeof key !== 'string' || key.length === 0) throw invalidKey(key);
    if (this.#prefix === '' && key.startsWith(RESERVED_PREFIX)) {
      throw new InvalidArgumentError('key', `keys starting with "${RESERVED_PREFIX}" are reserved`);
    }
    return this.#prefix + key;
  }

  #keys(keys: string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('keys', 'expected an array of keys');
    return keys.map((key) => this.#key(key));
  }

  #error(
    error: unknown,
    operation: CacheOperation,
    key: string | undefined,
    dropped: boolean,
  ): void {
    const { counters, listening } = this.#shared;
    counters.errors++;
    if (dropped) counters.droppedWrites++;
    if (listening.error)
      this.#emit('error', { error, operation, key, store: this.#store.name, dropped });
  }

  #emit<E extends keyof CacheEvents>(event: E, payload: CacheEvents[E]): void {
    try {
      this.#shared.emitter.emit(event, payload);
    } catch (error) {
      // A throwing listener must not break the cache operation that emitted the event, nor go unseen.
      process.emitWarning(error as Error);
    }
  }
}

class Context<T> implements LoaderContext<T> {
  ttl: number | undefined;
  tags: string[] | undefined;
  skipped = false;
  readonly startedAt = stamp();

  constructor(
    readonly key: string,
    readonly signal: AbortSignal,
    readonly stale: T | undefined,
  ) {}

  setTtl(ttl: Duration): void {
    this.ttl = parseDuration(ttl, 'ttl');
  }

  setTags(tags: string[]): void {
    checkTags(tags);
    this.tags = tags;
  }

  skip(): void {
    this.skipped = true;
  }
}

function invalidKey(key: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'key',
    typeof key === 'string'
      ? 'expected a non-empty string'
      : `expected a string, got ${typeof key}`,
  );
}

function namespacePrefix(parent: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('namespace', 'expected a non-empty string');
  }
  return `${parent}${name}:`;
}

function voidFlights(inflight: Map<string, Flight>, matches: (fullKey: string) => boolean): void {
  for (const flight of inflight.values()) {
    if (!flight.voided && matches(flight.key)) flight.voided = true;
  }
}

// Which keys an invalidation from another process covers (tags are handled by their records).
function matcherOf(message: InvalidationMessage): (fullKey: string) => boolean {
  switch (message.type) {
    case 'delete': {
      const keys = new Set(message.keys);
      return (k) => keys.has(k);
    }
    case 'clear':
      return (k) => message.prefix === undefined || k.startsWith(message.prefix);
    case 'pattern': {
      const pattern = message.pattern === undefined ? undefined : globToRegExp(message.pattern);
      return (k) => pattern?.test(k) ?? false;
    }
    default:
      return () => false;
  }
}
