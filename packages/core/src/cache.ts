import { Batch, type BatchLoader } from './batch.js';
import { channels, isTraced, type KeyMessage, traced } from './channels.js';
import type { Clock } from './clock.js';
import { Engine } from './engine.js';
import { describeEntry, type EntryInfo, freshness } from './entry.js';
import { CacheInconsistencyError, InvalidArgumentError, StoreError } from './errors.js';
import type { EventSource } from './eventSource.js';
import type { CacheEvents, CacheListener, CacheStats } from './events.js';
import { escapeGlob, globToRegExp } from './glob.js';
import { followEvents } from './invalidation.js';
import { invalidKey, namespacePrefix, storeKey } from './keys.js';
import { getOrLoad, newEntry, refreshIfDue, type View } from './loading.js';
import type {
  CacheOptions,
  GetOptions,
  GetOrSetOptions,
  InvalidateOptions,
  InvalidationHandlers,
  Loader,
  NamespaceOptions,
  SetOptions,
} from './options.js';
import { resolvePlan } from './policy.js';
import { snapshot } from './stats.js';
import { FAILED, fastHitWatched, type StoreGateway } from './storeGateway.js';
import { checkTags } from './tags.js';
import type { Telemetry } from './telemetry.js';
import type { CacheEntry, CacheStore } from './types.js';
import { clearPrefix, invalidateTags, removeKeys, removePattern, storeEntries } from './writes.js';

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
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
    throw new InvalidArgumentError('clock', 'expected an object with a now() method');
  }
  if (options.waitUntil !== undefined && typeof options.waitUntil !== 'function') {
    throw new InvalidArgumentError('waitUntil', 'expected a function');
  }
  const target = serializer && store.withSerializer ? store.withSerializer(serializer) : store;
  const prefix = options.namespace === undefined ? '' : namespacePrefix('', options.namespace);
  return new Cache(new Engine(options, target), prefix, []);
}

/**
 * A cache over one store: cache-aside reads and writes, read-through `getOrSet` with one loader
 * call per key however many callers wait, grace, timeouts, namespaces, events and stats.
 * Store failures never reject a read (it falls back to the loader) and never reject a write (it
 * resolves `false` and emits `error`). Create it with {@link createCache}.
 */
export class Cache {
  readonly #engine: Engine;
  // The parts of the engine the hit path reads, held directly.
  readonly #gateway: StoreGateway;
  readonly #store: CacheStore;
  readonly #clock: Clock;
  readonly #telemetry: Telemetry;
  readonly #counters: Telemetry['counters'];
  readonly #listening: Telemetry['listening'];
  readonly #view: View;
  readonly #prefix: string;
  // Whether the cache refreshes ahead of expiry: only then does a hit look at the threshold.
  readonly #refreshing: boolean;

  /** @internal Use {@link createCache} or {@link Cache.namespace}. */
  constructor(engine: Engine, prefix: string, scopeTags: string[]) {
    this.#engine = engine;
    this.#gateway = engine.gateway;
    this.#store = engine.gateway.store;
    this.#clock = engine.clock;
    this.#telemetry = engine.telemetry;
    this.#counters = engine.telemetry.counters;
    this.#listening = engine.telemetry.listening;
    this.#prefix = prefix;
    this.#refreshing = engine.policy.refreshAhead !== undefined;
    // Tags every entry written through this view gets: one per versioned namespace it is in.
    this.#view = { prefix, scopeTags };
  }

  /** The prefix this cache puts before every key (`''`, or `'users:'` for a namespace). */
  get prefix(): string {
    return this.#prefix;
  }

  /** The store this cache writes to. */
  get store(): CacheStore {
    return this.#gateway.store;
  }

  /**
   * Returns the cached value, or loads it with `loader`, returns it and stores it. Concurrent
   * callers of one key share one loader call. A miss resolves as soon as the loader does: the
   * store write goes on in the background (see {@link Cache.flush}). When the loader throws or
   * times out and a value is within grace, the stale value is returned; otherwise it rejects with
   * {@link LoaderError} or {@link LoaderTimeoutError}. A `null` result is cached (for
   * `negativeTtl`), `undefined` is not.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    if (isTraced(channels.getOrSet)) return this.#tracedGetOrSet(key, loader, options);
    return this.#getOrSet(key, loader, options);
  }

  #tracedGetOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    const message: KeyMessage = { key: this.#prefix + String(key), store: this.#store.name };
    return traced(channels.getOrSet, message, () =>
      this.#getOrSet(key, loader, options),
    ) as Promise<T>;
  }

  #getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
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
      found = this.#gateway.answered(fullKey, Promise.reject(error));
    }
    // The L1 fast path: a synchronous store answered with a fresh entry. Keys starting with `_`
    // take the slow path, which checks them against the reserved prefix.
    if (
      found !== undefined &&
      found !== null &&
      (found as CacheEntry).expiresAt > this.#clock.now() &&
      fullKey.charCodeAt(0) !== 95 &&
      (options === undefined ||
        ((options.version === undefined || (found as CacheEntry).version === options.version) &&
          options.forceFresh !== true)) &&
      ((found as CacheEntry).tags === undefined || this.#tagsHold(found as CacheEntry))
    ) {
      this.#counters.hits++;
      if (this.#listening.hit) {
        this.#telemetry.emit('hit', { key: fullKey, store: this.#store.name });
      }
      if (fastHitWatched()) this.#gateway.fastHit(fullKey, found as CacheEntry);
      if (this.#refreshing || options?.refresh !== undefined) {
        refreshIfDue(
          this.#engine,
          this.#view,
          fullKey,
          found as CacheEntry<T>,
          this.#clock.now(),
          loader,
          options,
        );
      }
      return Promise.resolve((found as CacheEntry<T>).value);
    }
    // Anything else goes through the gateway: the deadline, the contract check, failures.
    found = this.#gateway.answered(fullKey, found);
    try {
      storeKey(this.#prefix, key);
    } catch (error) {
      if (found instanceof Promise) found.catch(() => {});
      return Promise.reject(error);
    }
    return getOrLoad(this.#engine, this.#view, fullKey, found, loader, options);
  }

  /**
   * `getOrSet` for many keys at once: one store read for all of them (`getMany`: one MGET on
   * Redis), then one call of `loader` with the keys that are truly missing; keys already loading
   * (by any `getOrSet` or `getOrSetMany`) join those loads, and fresh ones are served. Each key
   * goes through its own flight, so grace, timeouts, refresh-ahead and invalidations apply per
   * key as in `getOrSet`. Resolves one settled result per key, in order: `{ status: 'fulfilled',
   * value }` or `{ status: 'rejected', reason }` (a `LoaderError` when the loader failed that key
   * and no stale value stood in).
   *
   * @example
   * const users = await cache.getOrSetMany(['1', '2', '3'], async (missing) => {
   *   const rows = await db.users.findMany(missing);
   *   return new Map(rows.map((row) => [String(row.id), row]));
   * });
   */
  async getOrSetMany<T>(
    keys: string[],
    loader: BatchLoader<T>,
    options?: GetOrSetOptions,
  ): Promise<PromiseSettledResult<T>[]> {
    if (typeof loader !== 'function') {
      throw new InvalidArgumentError('loader', `expected a function, got ${typeof loader}`);
    }
    const fullKeys = [...new Set(this.#keys(keys))];
    const read = this.#gateway.getMany(fullKeys);
    const batch = new Batch(loader, fullKeys.length);
    const loads = new Map(
      fullKeys.map((fullKey, i) => [
        fullKey,
        getOrLoad(
          this.#engine,
          this.#view,
          fullKey,
          read.then((entries) => entries[i]),
          batch.load,
          options,
        ),
      ]),
    );
    const settled = await Promise.allSettled(loads.values());
    const byKey = new Map([...loads.keys()].map((fullKey, i) => [fullKey, settled[i]!]));
    return keys.map((key) => byKey.get(this.#key(key)) as PromiseSettledResult<T>);
  }

  /** Returns the fresh value of `key`, or `undefined` when it is missing, expired, of another version or the store failed. */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    const fullKey = this.#key(key);
    const cleared = this.#engine.tagRecords.cleared;
    const entry = await this.#engine.fresh(
      fullKey,
      await this.#gateway.get(fullKey),
      options?.version,
      cleared,
      true,
    );
    return entry?.value as T | undefined;
  }

  /**
   * Tells the truth about `key`: its value, whether it is stale (past its TTL, within grace),
   * whether it was invalidated with `{ mode: 'expire' }` (then it is stale too), when it expires
   * and its grace ends, its tags and version; `undefined` when nothing usable is cached
   * (missing, past grace, of another version, invalidated hard, or the store failed). Counts
   * no hit nor miss.
   *
   * @example
   * const entry = await cache.getEntry('user:1');
   * if (entry?.stale) console.log('serving a stale value until', new Date(entry.staleUntil!));
   */
  async getEntry<T = unknown>(
    key: string,
    options?: GetOptions,
  ): Promise<EntryInfo<T> | undefined> {
    const fullKey = this.#key(key);
    const engine = this.#engine;
    const cleared = engine.tagRecords.cleared;
    const found = await this.#gateway.get(fullKey);
    const entry = found && (await engine.usable(found as CacheEntry<T>, options?.version, cleared));
    if (entry === undefined) return undefined;
    const state = freshness(entry, this.#clock.now());
    return state === 'gone' ? undefined : describeEntry(entry, state === 'stale');
  }

  /**
   * How long (ms) the value of `key` stays fresh: `0` for a stale value still within grace,
   * `undefined` when nothing usable is cached (see {@link Cache.getEntry}).
   */
  async remainingTtl(key: string, options?: GetOptions): Promise<number | undefined> {
    const entry = await this.getEntry(key, options);
    if (entry === undefined) return undefined;
    return entry.stale ? 0 : Math.max(0, entry.expiresAt - this.#clock.now());
  }

  /** Returns whether `key` holds a fresh value (of `options.version`, when given). */
  async has(key: string, options?: GetOptions): Promise<boolean> {
    return (await this.get(key, options)) !== undefined;
  }

  /**
   * Stores `value` under `key`. Resolves `true` once stored, `false` when the store failed
   * (an `error` event says why). Rejects with {@link InvalidArgumentError} for a bad key, TTL or
   * an `undefined` value, and with {@link SerializationError} for a value the serializer cannot encode.
   */
  async set(key: string, value: unknown, options?: SetOptions): Promise<boolean> {
    const fullKey = this.#key(key);
    const entry = this.#entry(value, options);
    if (entry === undefined) return (await removeKeys(this.#engine, [fullKey])) !== FAILED;
    return storeEntries(this.#engine, [[fullKey, entry]], true);
  }

  /**
   * Deletes `key`. Resolves whether it existed; `false` also when the store failed (an `error`
   * event says so). With `{ mode: 'expire' }` the value is kept only as a grace fallback: never
   * a hit again, the next `getOrSet` loads anew and gets it only if the loader fails or times
   * out within its grace (see {@link InvalidateOptions}).
   */
  async delete(key: string, options?: InvalidateOptions): Promise<boolean> {
    const count = await removeKeys(this.#engine, [this.#key(key)], softMode(options));
    return count !== FAILED && count > 0;
  }

  /** Returns the fresh values of `keys`, in order, `undefined` for each miss. */
  async getMany<T = unknown>(keys: string[], options?: GetOptions): Promise<(T | undefined)[]> {
    const fullKeys = this.#keys(keys);
    const cleared = this.#engine.tagRecords.cleared;
    const entries = await this.#gateway.getMany(fullKeys);
    const fresh = await Promise.all(
      fullKeys.map((k, i) => this.#engine.fresh(k, entries[i], options?.version, cleared, true)),
    );
    return fresh.map((entry) => entry?.value as T | undefined);
  }

  /**
   * Stores several values. Resolves `false` when the store failed (an `error` event says why).
   * Items whose TTL is `0` are deleted instead.
   */
  async setMany(items: [key: string, value: unknown, options?: SetOptions][]): Promise<boolean> {
    if (!Array.isArray(items)) {
      throw new InvalidArgumentError('items', 'expected an array of [key, value, options?]');
    }
    const writes: [string, CacheEntry][] = [];
    const removals: string[] = [];
    for (const [key, value, options] of items) {
      const fullKey = this.#key(key);
      const entry = this.#entry(value, options);
      if (entry === undefined) removals.push(fullKey);
      else writes.push([fullKey, entry]);
    }
    const removed = removals.length === 0 || (await removeKeys(this.#engine, removals)) !== FAILED;
    const stored = writes.length === 0 || (await storeEntries(this.#engine, writes, true));
    return removed && stored;
  }

  /**
   * Deletes several keys; resolves how many existed (`0` when the store failed). With
   * `{ mode: 'expire' }`, keeps their values as grace fallbacks only (see {@link Cache.delete}).
   */
  async deleteMany(keys: string[], options?: InvalidateOptions): Promise<number> {
    const count = await removeKeys(this.#engine, this.#keys(keys), softMode(options));
    return count === FAILED ? 0 : count;
  }

  /**
   * Removes every key of this cache: the whole store, or only this namespace's keys. With
   * `{ mode: 'expire' }`, keeps their values as grace fallbacks only (see {@link Cache.delete}).
   */
  async clear(options?: InvalidateOptions): Promise<void> {
    await clearPrefix(this.#engine, this.#prefix, softMode(options));
  }

  /**
   * Returns a view of this cache whose keys are prefixed with `name:`; it shares store, events
   * and stats. A `versioned` namespace can be invalidated as a whole in O(1). Names that would
   * put keys under the reserved prefix `__cache:` are rejected.
   */
  namespace(name: string, options?: NamespaceOptions): Cache {
    const prefix = namespacePrefix(this.#prefix, name);
    const { scopeTags } = this.#view;
    return new Cache(
      this.#engine,
      prefix,
      options?.versioned ? [...scopeTags, `__ns:${prefix}`] : scopeTags,
    );
  }

  /**
   * Invalidates every entry carrying one of `tags`, in every tier and every process sharing
   * the store, without scanning keys: the invalidation time is stored per tag and checked when
   * a tagged entry is read. Loads in flight meanwhile are not joined afterwards, and not stored if
   * they carry one of the tags. With `{ mode: 'expire' }`, the entries stay grace fallbacks
   * only (see {@link Cache.delete}); an entry a hard invalidation voided stays void.
   * Resolves `false` when the store failed (an `error` event says why).
   */
  async invalidateTags(tags: string[], options?: InvalidateOptions): Promise<boolean> {
    checkTags(tags);
    return invalidateTags(this.#engine, tags, softMode(options));
  }

  /**
   * Invalidates every entry of this namespace. For a namespace opened with `versioned: true`
   * this bumps its version (O(1), across tiers and processes); otherwise it clears the prefix.
   * With `{ mode: 'expire' }`, the entries stay grace fallbacks only (see {@link Cache.delete}).
   */
  async invalidate(options?: InvalidateOptions): Promise<boolean> {
    const soft = softMode(options);
    const own = this.#view.scopeTags.at(-1);
    if (own === `__ns:${this.#prefix}`) return invalidateTags(this.#engine, [own], soft);
    return clearPrefix(this.#engine, this.#prefix, soft);
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
  invalidateOn(source: EventSource, handlers: InvalidationHandlers): Promise<() => void> {
    return followEvents(
      source,
      handlers,
      {
        deleteMany: (keys) => this.deleteMany(keys),
        invalidateTags: (tags) => this.invalidateTags(tags),
        clearPrefix: (prefix) => clearPrefix(this.#engine, this.#prefix + prefix),
        deletePattern: (pattern) => this.deletePattern(pattern),
      },
      (error, event) => this.#telemetry.error(error, 'invalidate', event, false),
    );
  }

  /**
   * Deletes every key of this cache (or namespace) matching a Redis-style glob, such as the
   * seed's `'*:123:*'` (`*`, `?`, `[...]`, and a backslash escapes). Resolves how many were
   * deleted, `0` when the store failed. Rejects with {@link StoreError} (`E_UNSUPPORTED`) for a
   * store without `deletePattern`. The cache's own records (under `__cache:`) are never matched.
   */
  async deletePattern(pattern: string): Promise<number> {
    const matches = globToRegExp(pattern);
    const store = this.#gateway.store;
    if (typeof store.deletePattern !== 'function') {
      throw new StoreError(store.name, 'this store cannot delete by pattern', {
        code: 'E_UNSUPPORTED',
      });
    }
    const prefix = this.#prefix;
    return removePattern(
      this.#engine,
      escapeGlob(prefix) + pattern,
      (k) => k.startsWith(prefix) && matches.test(k.slice(prefix.length)),
    );
  }

  /**
   * Write-through: runs `persist` (the database write) first, then stores `value`, voiding any
   * load of the key in flight. If the cache write fails the key is deleted so the old value is
   * never served; if that fails too it rejects with {@link CacheInconsistencyError}. A failing
   * `persist` rejects and leaves the cache untouched. Resolves what `persist` returned.
   */
  async writeThrough<R>(
    key: string,
    value: unknown,
    persist: (value: unknown) => R | Promise<R>,
    options?: SetOptions,
  ): Promise<R> {
    const fullKey = this.#key(key);
    const entry = this.#entry(value, options);
    const result = await persist(value);
    if (entry !== undefined && (await storeEntries(this.#engine, [[fullKey, entry]], false))) {
      return result;
    }
    if ((await removeKeys(this.#engine, [fullKey])) === FAILED) {
      throw new CacheInconsistencyError(fullKey, undefined);
    }
    return result;
  }

  /**
   * Resolves once every store write a miss left running in the background has settled (each
   * failure is an `error` event). `close()` waits for them too.
   */
  flush(): Promise<void> {
    return this.#engine.flush();
  }

  /** Subscribes to an event. */
  on<E extends keyof CacheEvents>(event: E, listener: CacheListener<E>): this {
    this.#telemetry.on(event, listener);
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends keyof CacheEvents>(event: E, listener: CacheListener<E>): this {
    this.#telemetry.once(event, listener);
    return this;
  }

  /** Unsubscribes a listener. */
  off<E extends keyof CacheEvents>(event: E, listener: CacheListener<E>): this {
    this.#telemetry.off(event, listener);
    return this;
  }

  /** A snapshot of the counters, shared by every namespace of this cache. */
  stats(): CacheStats {
    return snapshot(this.#engine);
  }

  /** Waits for background writes, then closes the store (connections, timers). */
  close(): Promise<void> {
    return this.#engine.close();
  }

  // The synchronous tag check of the fast path: false when unknown or when the store answers
  // asynchronously (the slow path then reads the tag records again and reports failures), and
  // for an entry a tag expired softly (the slow path serves it only as a grace fallback).
  #tagsHold(entry: CacheEntry): boolean {
    try {
      const verdict = this.#engine.tagRecords.check(entry);
      if (typeof verdict === 'string') return verdict === 'valid';
      verdict.catch(() => {});
    } catch {
      // The slow path reads the tag records again and reports the failure.
    }
    return false;
  }

  #entry(value: unknown, options: SetOptions | undefined): CacheEntry | undefined {
    if (value === undefined) {
      throw new InvalidArgumentError('value', 'undefined is never cached; delete the key instead');
    }
    const plan = resolvePlan(this.#engine.policy, options);
    const createdAt = this.#engine.tagRecords.loadStamp();
    return newEntry(this.#engine, this.#view, value, plan.ttl, plan, plan.tags, createdAt);
  }

  #key(key: string): string {
    return storeKey(this.#prefix, key);
  }

  #keys(keys: string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('keys', 'expected an array of keys');
    return keys.map((key) => this.#key(key));
  }
}

// Whether `options` ask for a soft invalidation; throws for a mode that is neither.
function softMode(options: InvalidateOptions | undefined): boolean {
  const mode = options?.mode;
  if (mode === undefined || mode === 'delete') return false;
  if (mode === 'expire') return true;
  throw new InvalidArgumentError('mode', `expected 'delete' or 'expire', got ${String(mode)}`);
}
