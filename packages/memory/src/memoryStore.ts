import {
  type CacheEntry,
  type CacheStore,
  defaultSerializer,
  expired,
  globToRegExp,
  InvalidArgumentError,
  mergeTagRecord,
  RESERVED_PREFIX,
  SerializationError,
  type Serializer,
  StoreError,
} from '@cache/core';
import { Lru } from './lru.js';
import { TinyLfu } from './tinyLfu.js';

// A JavaScript Map holds at most 2^24 entries.
const MAX_ENTRIES = 2 ** 24;

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How many entries the store holds at most; past it {@link MemoryStoreOptions.policy} picks
   * one to evict. An integer from 1 to 16,777,216 (the most a JavaScript `Map` holds).
   * @default 10_000
   */
  maxEntries?: number;
  /**
   * Which entry makes room for another: `'lru'` evicts the least recently used one; `'tinylfu'`
   * (W-TinyLFU) admits a new key into the main region only if it has been seen more often lately
   * than the entry it would replace, so scans and one-time keys do not flush keys read often.
   * @default 'lru'
   */
  policy?: 'lru' | 'tinylfu';
  /**
   * The most the sizes of all entries, as measured by {@link MemoryStoreOptions.sizeOf}, may add
   * up to; entries are evicted (by {@link MemoryStoreOptions.policy}) to stay under it. Requires
   * `sizeOf`.
   * @default undefined (no size limit)
   */
  maxSize?: number;
  /**
   * The largest size, as measured by {@link MemoryStoreOptions.sizeOf}, of one entry: a larger
   * one is rejected rather than evicting many others to make room. Requires `sizeOf`.
   * @default maxSize
   */
  maxEntrySize?: number;
  /**
   * Measures an entry for {@link MemoryStoreOptions.maxSize} and
   * {@link MemoryStoreOptions.maxEntrySize}: a finite number, 0 or more.
   */
  sizeOf?: (entry: CacheEntry, key: string) => number;
  /**
   * Store each entry as serialized text rather than the live object, so that callers get copies
   * and values the serializer cannot encode are rejected; enables {@link MemoryStore.withSerializer}.
   * @default false (entries are kept and returned by reference)
   */
  clone?: boolean;
}

/**
 * An in-process {@link CacheStore} evicting by LRU or W-TinyLFU. `get` and the other methods answer synchronously, which
 * makes it the fast first tier of a cache. Each entry is kept until
 * `entry.staleUntil ?? entry.expiresAt` and reclaimed lazily after that, when read or evicted.
 */
export class MemoryStore implements CacheStore {
  /** Always `'memory'`. */
  readonly name = 'memory';
  /**
   * With `clone: true` only: a view of the same entries that encodes them with `serializer`
   * instead of the default serializer of `@cache/core`.
   */
  declare readonly withSerializer?: (serializer: Serializer) => MemoryStore;
  // Assigned once in the constructor rather than declared as class fields, which V8 would reload
  // on every hit (see lru.ts).
  declare private readonly entries: Lru<unknown> | TinyLfu<unknown>;
  declare private readonly serializer: Serializer | undefined;
  declare private readonly sizeOf: ((entry: CacheEntry, key: string) => number) | undefined;
  declare private readonly maxEntrySize: number;

  /** Prefer {@link memoryStore}; throws an `InvalidArgumentError` naming a bad option. */
  constructor(options: MemoryStoreOptions = {}) {
    const { maxEntries = 10_000, maxSize, maxEntrySize, sizeOf, clone = false } = options;
    const { policy = 'lru' } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_ENTRIES) {
      throw new InvalidArgumentError(
        'maxEntries',
        `must be an integer from 1 to ${MAX_ENTRIES}, got ${String(maxEntries)}`,
      );
    }
    if (maxSize !== undefined && !(maxSize > 0 && maxSize < Number.POSITIVE_INFINITY)) {
      throw new InvalidArgumentError('maxSize', `must be a finite number above 0, got ${maxSize}`);
    }
    if (
      maxEntrySize !== undefined &&
      !(maxEntrySize >= 0 && maxEntrySize < Number.POSITIVE_INFINITY)
    ) {
      throw new InvalidArgumentError(
        'maxEntrySize',
        `must be a finite number, 0 or more, got ${maxEntrySize}`,
      );
    }
    if ((maxSize !== undefined || maxEntrySize !== undefined) && typeof sizeOf !== 'function') {
      throw new InvalidArgumentError(
        'sizeOf',
        'must be a function when maxSize or maxEntrySize is set',
      );
    }
    if (sizeOf !== undefined && maxSize === undefined && maxEntrySize === undefined) {
      throw new InvalidArgumentError('maxSize', 'must be set when sizeOf is given');
    }
    if (policy !== 'lru' && policy !== 'tinylfu') {
      throw new InvalidArgumentError('policy', `must be 'lru' or 'tinylfu', got ${String(policy)}`);
    }
    this.entries =
      policy === 'lru' ? new Lru(maxEntries, maxSize) : new TinyLfu(maxEntries, maxSize);
    this.serializer = clone ? defaultSerializer : undefined;
    this.sizeOf = sizeOf;
    this.maxEntrySize = Math.min(
      maxEntrySize ?? Number.POSITIVE_INFINITY,
      maxSize ?? Number.POSITIVE_INFINITY,
    );
    if (clone) {
      (this as { withSerializer: (serializer: Serializer) => MemoryStore }).withSerializer = (
        serializer,
      ) => this.view(serializer);
    }
  }

  /** How many entries the store holds, counting expired ones not yet reclaimed. */
  get size(): number {
    return this.entries.size;
  }

  /** The sum of the entries' sizes as measured by `sizeOf` (0 without `maxSize`). */
  get bytes(): number {
    return this.entries.bytes;
  }

  /**
   * Entries evicted to make room since the store was created (least recently used ones, past
   * `maxEntries` or `maxSize`); each is also a `cache:evict` diagnostics channel message.
   */
  get evictions(): number {
    return this.entries.evictions;
  }

  /** Returns the entry, or `undefined` when it is missing or past `staleUntil ?? expiresAt`. */
  get(key: string): CacheEntry | undefined {
    const stored = this.entries.get(key);
    if (this.serializer === undefined || stored === undefined) return stored as CacheEntry;
    return this.decode(stored as string);
  }

  /** Returns one entry or `undefined` per key, in order. */
  getMany(keys: string[]): (CacheEntry | undefined)[] {
    return keys.map((key) => this.get(key));
  }

  /**
   * Stores the entry, evicting others as the policy decides (under `'tinylfu'`, possibly this new
   * entry itself); an entry already past `staleUntil ?? expiresAt` just removes the key. Throws,
   * leaving the store unchanged, when the entry is larger than `maxEntrySize` or `maxSize` (a
   * `StoreError`, which a cache reports as a dropped write) or (with `clone`) cannot be serialized.
   */
  set(key: string, entry: CacheEntry): void {
    const until = entry.staleUntil ?? entry.expiresAt;
    if (this.sizeOf === undefined && this.serializer === undefined) {
      if (!this.entries.set(key, entry, until, 0)) this.drop(key, until);
      return;
    }
    if (!this.entries.live(until)) {
      this.drop(key, until);
      return;
    }
    // Measured and encoded before storing, so that a failure leaves the store unchanged.
    const size = this.sizeOf === undefined ? 0 : this.measure(entry, key);
    const stored = this.serializer === undefined ? entry : this.encode(entry);
    if (!this.entries.set(key, stored, until, size)) this.drop(key, until);
  }

  /** Stores every entry, in order. */
  setMany(entries: [key: string, entry: CacheEntry][]): void {
    for (const [key, entry] of entries) this.set(key, entry);
  }

  /**
   * Writes the cache's tag records unless what is held is newer: each key ends with
   * `mergeTagRecord` of `@cache/core` of the held record and the new one (the later stamps, the
   * longer life). Synchronous, so no other write of the key comes between the read and the write.
   */
  mergeTagRecords(records: [key: string, entry: CacheEntry][]): void {
    for (const [key, entry] of records) this.set(key, mergeTagRecord(this.get(key), entry));
  }

  /** Removes the key; returns whether it was held. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Removes the keys; returns how many were held. */
  deleteMany(keys: string[]): number {
    let count = 0;
    for (const key of keys) if (this.entries.delete(key)) count++;
    return count;
  }

  /**
   * Soft invalidation: marks the entries of `keys` expired (`expiresAt` at `SOFT_EXPIRED`),
   * kept in place until their `staleUntil` as grace fallbacks; an entry without `staleUntil` is
   * removed. Returns how many were held.
   */
  expire(keys: string[]): number {
    let count = 0;
    const rewrite = (stored: unknown) => this.expireOne(stored);
    for (const key of keys) count += this.entries.rewrite(key, rewrite);
    return count;
  }

  /**
   * {@link MemoryStore.expire} for every key that starts with `prefix` (`''`: every key), except
   * the cache's own records (keys starting with `__cache:`).
   */
  expirePrefix(prefix: string): void {
    this.entries.rewrite(
      (key) => key.startsWith(prefix) && !key.startsWith(RESERVED_PREFIX),
      (stored) => this.expireOne(stored),
    );
  }

  // What a soft invalidation leaves of a stored entry (encoded with `clone`), if anything.
  private expireOne(stored: unknown): unknown {
    const { serializer } = this;
    const entry = serializer === undefined ? (stored as CacheEntry) : this.decode(stored as string);
    if (entry.staleUntil === undefined) return undefined;
    return serializer === undefined ? expired(entry) : this.encode(expired(entry));
  }

  /**
   * Removes every key that starts with `prefix` except the cache's own records (keys starting
   * with `__cache:`), or every key, records included, without one.
   */
  clear(prefix?: string): void {
    if (!prefix) {
      this.entries.clear();
      return;
    }
    this.entries.deleteMatching(
      (key) => key.startsWith(prefix) && !key.startsWith(RESERVED_PREFIX),
    );
  }

  /**
   * Removes every key matching the Redis-style glob `pattern` (`*`, `?`, `[...]`, `\` escapes;
   * see `globToRegExp` of `@cache/core`), such as `'*:123:*'`, except the cache's own records
   * (keys starting with `__cache:`); returns how many live entries it removed. Throws an
   * `InvalidArgumentError` for an empty or unterminated pattern.
   */
  deletePattern(pattern: string): number {
    const matches = globToRegExp(pattern);
    return this.entries.deleteMatching(
      (key) => matches.test(key) && !key.startsWith(RESERVED_PREFIX),
    );
  }

  // An entry already past `until` removes the key; a NaN or missing expiry is rejected.
  private drop(key: string, until: number): void {
    if (typeof until !== 'number' || Number.isNaN(until)) {
      throw new InvalidArgumentError('entry', `expiresAt must be a number, got ${String(until)}`);
    }
    this.entries.delete(key);
  }

  private measure(entry: CacheEntry, key: string): number {
    const size = this.sizeOf!(entry, key);
    if (!(size >= 0 && size < Number.POSITIVE_INFINITY)) {
      throw new InvalidArgumentError(
        'sizeOf',
        `must return a finite number, 0 or more, got ${String(size)} for key "${key}"`,
      );
    }
    if (size > this.maxEntrySize) {
      throw new StoreError(
        this.name,
        `entry "${key}" of size ${size} is larger than ${this.maxEntrySize}, the most one entry may take (maxEntrySize, or maxSize)`,
      );
    }
    return size;
  }

  private encode(entry: CacheEntry): string {
    try {
      return this.serializer!.serialize(entry);
    } catch (error) {
      throw asSerializationError('serialize', error);
    }
  }

  private decode(text: string): CacheEntry {
    try {
      return this.serializer!.deserialize(text) as CacheEntry;
    } catch (error) {
      throw asSerializationError('deserialize', error);
    }
  }

  // Shares everything but the serializer, which it shadows.
  private view(serializer: Serializer): MemoryStore {
    return Object.create(this, { serializer: { value: serializer } }) as MemoryStore;
  }
}

/** Creates a {@link MemoryStore}; throws an `InvalidArgumentError` naming a bad option. */
export function memoryStore(options?: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(options);
}

function asSerializationError(
  operation: 'serialize' | 'deserialize',
  error: unknown,
): SerializationError {
  if (error instanceof SerializationError) return error;
  return new SerializationError(
    operation,
    error instanceof Error ? error.message : String(error),
    error,
  );
}
