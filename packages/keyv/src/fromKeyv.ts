import {
  type CacheEntry,
  type CacheStore,
  defaultSerializer,
  globToRegExp,
  InvalidArgumentError,
  RESERVED_PREFIX,
  SerializationError,
  type Serializer,
  StoreError,
} from '@cache/core';
import { Keyv, type KeyvStoreAdapter } from 'keyv';

/** Options of {@link fromKeyv}. */
export interface FromKeyvOptions {
  /**
   * The store's name in events and errors.
   * @default 'keyv'
   */
  name?: string;
  /**
   * Encodes each whole entry (value, expiry, tags, version) into the text handed to Keyv.
   * @default defaultSerializer (devalue, from `@cache/core`)
   */
  serializer?: Serializer;
}

/**
 * A {@link CacheStore} over a Keyv instance, made by {@link fromKeyv}. Each entry is stored under
 * its key as one serialized text, with a Keyv TTL running to `staleUntil ?? expiresAt`.
 */
export class KeyvStore implements CacheStore {
  /** The store's name, `'keyv'` unless set. */
  readonly name: string;
  /** The Keyv instance holding the entries. */
  readonly keyv: Keyv;
  readonly #serializer: Serializer;

  constructor(keyv: Keyv, options?: FromKeyvOptions) {
    this.keyv = keyv;
    this.name = options?.name ?? 'keyv';
    this.#serializer = options?.serializer ?? defaultSerializer;
  }

  /** Returns the entry, or `undefined` when it is missing or past `staleUntil ?? expiresAt`. */
  async get(key: string): Promise<CacheEntry | undefined> {
    return this.#decode(await this.keyv.get<unknown>(this.#one(key)), Date.now());
  }

  /** Returns one slot per key, in order; Keyv uses its adapter's `getMany` when it has one. */
  async getMany(keys: string[]): Promise<(CacheEntry | undefined)[]> {
    if (keys.length === 0) return [];
    const texts = await this.keyv.getMany<unknown>(keys);
    const now = Date.now();
    return texts.map((text) => this.#decode(text, now));
  }

  /**
   * Stores the entry with a Keyv TTL up to `staleUntil ?? expiresAt` (none when that is
   * `Infinity`); an entry already past it deletes the key. Rejects when Keyv reports a failure.
   */
  async set(key: string, entry: CacheEntry): Promise<void> {
    const ttl = ttlOf(entry, Date.now());
    if (ttl === 0) {
      await this.keyv.delete(this.#one(key));
      return;
    }
    const stored = await this.keyv.set(this.#one(key), this.#serializer.serialize(entry), ttl);
    if (!stored) throw new StoreError(this.name, `Keyv did not store "${key}"`);
  }

  /** Stores every entry through Keyv's `setMany` (one adapter call when the adapter has it). */
  async setMany(entries: [key: string, entry: CacheEntry][]): Promise<void> {
    const now = Date.now();
    const last = new Map(entries);
    const gone: string[] = [];
    const live: { key: string; value: string; ttl?: number }[] = [];
    for (const [key, entry] of last) {
      const ttl = ttlOf(entry, now);
      if (ttl === 0) gone.push(key);
      else live.push({ key: this.#one(key), value: this.#serializer.serialize(entry), ttl });
    }
    if (gone.length > 0) await this.keyv.delete(gone);
    if (live.length === 0) return;
    const stored: unknown = await this.keyv.setMany(live);
    if (Array.isArray(stored) && stored.includes(false)) {
      throw new StoreError(this.name, 'Keyv did not store every entry of setMany');
    }
  }

  /** Removes the key; returns whether it existed. */
  async delete(key: string): Promise<boolean> {
    return this.keyv.delete(this.#one(key));
  }

  /** Removes the keys; returns how many existed (one Keyv `delete` each, as Keyv only tells whether any did). */
  async deleteMany(keys: string[]): Promise<number> {
    const found = await Promise.all(keys.map((key) => this.keyv.delete(this.#one(key))));
    return found.filter(Boolean).length;
  }

  /**
   * Without a prefix, Keyv's `clear()`: every key of its namespace. With one, walks Keyv's
   * iterator, which Keyv offers over a `Map` and its SQL, Mongo, Redis, Valkey and etcd
   * adapters, and removes the keys starting with `prefix` except the cache's own records (keys
   * starting with `__cache:`); rejects with a `StoreError` (`E_UNSUPPORTED`) over any other adapter.
   */
  async clear(prefix?: string): Promise<void> {
    if (!prefix) {
      await this.keyv.clear();
      return;
    }
    await this.#deleteWhere((key) => key.startsWith(prefix));
  }

  /**
   * Removes every key matching the glob except the cache's own records (keys starting with
   * `__cache:`), walking Keyv's iterator as `clear(prefix)` does; returns how many it removed.
   */
  async deletePattern(pattern: string): Promise<number> {
    const regExp = globToRegExp(pattern);
    return this.#deleteWhere((key) => regExp.test(key));
  }

  /** Disconnects Keyv (and with it the adapter's connection). */
  async close(): Promise<void> {
    await this.keyv.disconnect();
  }

  /** Returns a view of the same Keyv instance that encodes entries with `serializer`. */
  withSerializer(serializer: Serializer): KeyvStore {
    return new KeyvStore(this.keyv, { name: this.name, serializer });
  }

  // Removes the keys `matches` accepts, sparing the cache's own records.
  async #deleteWhere(matches: (key: string) => boolean): Promise<number> {
    const { iterator } = this.keyv;
    if (typeof iterator !== 'function') {
      throw new StoreError(
        this.name,
        'this Keyv store cannot list its keys (Keyv has no iterator for its adapter), so it cannot clear a prefix or a pattern',
        { code: 'E_UNSUPPORTED' },
      );
    }
    const keys: string[] = [];
    // Keyv's iterator takes its namespace from the adapter and ignores the argument.
    for await (const [key] of iterator(undefined)) {
      if (typeof key === 'string' && matches(key) && !key.startsWith(RESERVED_PREFIX)) {
        keys.push(key);
      }
    }
    if (keys.length > 0) await this.keyv.delete(keys);
    return keys.length;
  }

  // Keyv's get, set and delete leave a key that already starts with `<namespace>:` as it is (its
  // array forms do not), so `x` and `<namespace>:x` would share a slot: prefix such keys here.
  #one(key: string): string {
    const { namespace } = this.keyv;
    return namespace && this.keyv.useKeyPrefix && key.startsWith(`${namespace}:`)
      ? `${namespace}:${key}`
      : key;
  }

  #decode(text: unknown, now: number): CacheEntry | undefined {
    if (text === undefined || text === null) return undefined;
    if (typeof text !== 'string') {
      throw new SerializationError(
        'deserialize',
        `the Keyv value is a ${typeof text}, not an entry`,
      );
    }
    const entry = this.#serializer.deserialize(text) as CacheEntry;
    if (typeof entry?.expiresAt !== 'number') {
      throw new SerializationError('deserialize', 'the Keyv value is not a @cache entry');
    }
    return (entry.staleUntil ?? entry.expiresAt) > now ? entry : undefined;
  }
}

/** The Keyv TTL of an entry: `undefined` for no expiry, 0 when it is already past it. */
function ttlOf(entry: CacheEntry, now: number): number | undefined {
  const until = entry.staleUntil ?? entry.expiresAt;
  if (until === Number.POSITIVE_INFINITY) return undefined;
  if (!Number.isFinite(until)) {
    throw new InvalidArgumentError('entry', `expiresAt must be a number, got ${String(until)}`);
  }
  return Math.max(0, Math.ceil(until - now));
}

function isKeyv(candidate: Keyv | KeyvStoreAdapter): candidate is Keyv {
  // Duck-typed as well, so that a Keyv from another copy of the package is recognised.
  return (
    candidate instanceof Keyv ||
    (typeof (candidate as Partial<Keyv>).getRaw === 'function' && 'hooks' in candidate)
  );
}

/**
 * Makes a Keyv instance, or any Keyv storage adapter (`@keyv/redis`, `@keyv/postgres`,
 * `@keyv/sqlite`, `@keyv/mongo`, ...), a {@link CacheStore}: a tier for `createCache` or
 * `multilevel`. An adapter is wrapped in `new Keyv({ store, throwOnErrors: true })`, so Keyv's
 * default namespace `keyv` applies; pass your own Keyv instance to choose the namespace. Keyv
 * instances you pass keep their settings: with `throwOnErrors` off, Keyv reads a failing
 * backend as a miss, while a failed write still rejects here.
 *
 * @example
 * ```ts
 * const store = multilevel({ tiers: [memoryStore(), fromKeyv(new KeyvPostgres(url))] });
 * ```
 */
export function fromKeyv(
  keyvOrStore: Keyv | KeyvStoreAdapter,
  options?: FromKeyvOptions,
): KeyvStore {
  const keyv = isKeyv(keyvOrStore)
    ? keyvOrStore
    : new Keyv({ store: keyvOrStore, throwOnErrors: true });
  return new KeyvStore(keyv, options);
}
