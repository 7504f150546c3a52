import type { CacheEntry, CacheStore, Serializer, StoreWriteOptions } from '@cache/core';
import {
  defaultSerializer,
  escapeGlob,
  globToRegExp,
  InvalidArgumentError,
  RESERVED_PREFIX,
  StoreError,
} from '@cache/core';
import type { Redis } from 'ioredis';
import { decodeEntry, encodeEntry, ttlOf } from './codec.js';
import {
  isCluster,
  type RedisClient,
  RedisConnection,
  type RedisConnectionOptions,
  type RedisEvents,
  type RedisStats,
} from './connection.js';
import { EXPIRE } from './expireScript.js';
import { Fences, type FenceWrite } from './fence.js';
import { groupBySlot } from './slot.js';
import { STAMP } from './stamp.js';
import { mergeTagRecords } from './tagRecordMerge.js';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key in Redis. `clear()` only removes keys under it, so give each cache
   * sharing a database its own prefix.
   * @default 'cache:'
   */
  prefix?: string;
  /**
   * Encodes values. The entry's metadata travels in a short header next to the encoded value.
   * @default defaultSerializer (devalue, from `@cache/core`)
   */
  serializer?: Serializer;
  /**
   * Keys read and removed per `SCAN` round trip in `clear()` and `deletePattern()`.
   * @default 1000
   */
  scanCount?: number;
  /**
   * How long, in ms, a write or delete of a key fences it against loads that began before it
   * (see {@link RedisStore.set}); a load that lasts longer stores nothing. `false`: no fences
   * (plain `SET` and `UNLINK`; a load that read the database before another process's update
   * may then store its old value after that process's invalidation). Never on a Cluster.
   * @default 60000
   */
  fenceTtl?: number | false;
}

/** {@link RedisStore.stats}: the connection's counters, and the loads' writes fences refused. */
export interface RedisStoreStats extends RedisStats {
  /** Loads' writes refused because the key was written, deleted or cleared after the load began. */
  refusedWrites: number;
}

// Lets withSerializer() build a view that shares its parent's connection.
let sharedConnection: RedisConnection | undefined;

/**
 * A {@link CacheStore} on Redis (a single node or a Cluster) through ioredis. Concurrent `get`s
 * of one tick go out as one `MGET` (one per hash slot on a Cluster), entries expire in Redis
 * with `PX` at `staleUntil ?? expiresAt`, and `clear()` walks the prefix with `SCAN` and
 * `UNLINK`. Every failure rejects with a `StoreError`; a timeout and a circuit breaker make
 * calls to a dead Redis fail fast instead of hanging. Create one with {@link redisStore}.
 */
export class RedisStore implements CacheStore {
  /** Always `'redis'`. */
  readonly name = 'redis';
  /** The key prefix in Redis. */
  readonly prefix: string;
  /** The serializer that encodes values. */
  readonly serializer: Serializer;
  readonly #connection: RedisConnection;
  readonly #scanCount: number;
  // Undefined when fences are off (fenceTtl: false, or a Cluster).
  readonly #fences: Fences | undefined;

  /** Prefer {@link redisStore}. */
  constructor(options: RedisStoreOptions = {}) {
    const { prefix, serializer, scanCount, fenceTtl, ...connectionOptions } = options;
    this.prefix = prefix ?? 'cache:';
    this.serializer = serializer ?? defaultSerializer;
    this.#scanCount = scanCount ?? 1000;
    if (
      fenceTtl !== undefined &&
      fenceTtl !== false &&
      !(Number.isFinite(fenceTtl) && fenceTtl > 0)
    ) {
      throw new InvalidArgumentError(
        'fenceTtl',
        'expected a positive number of milliseconds or false',
      );
    }
    if (typeof this.prefix !== 'string') {
      throw new InvalidArgumentError('prefix', 'expected a string');
    }
    if (!(Number.isInteger(this.#scanCount) && this.#scanCount > 0)) {
      throw new InvalidArgumentError('scanCount', 'expected a positive integer');
    }
    const timeout = connectionOptions.timeout;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
      throw new InvalidArgumentError('timeout', 'expected a positive number of milliseconds');
    }
    const keyPrefix = (connectionOptions.client?.options ?? connectionOptions).keyPrefix;
    if (keyPrefix) {
      // SCAN patterns and the keys it returns ignore ioredis' keyPrefix, so clear() would miss.
      throw new InvalidArgumentError(
        'keyPrefix',
        `use the store's \`prefix\` option instead of ioredis' keyPrefix ("${keyPrefix}")`,
      );
    }
    this.#connection = sharedConnection ?? new RedisConnection(connectionOptions);
    this.#fences =
      fenceTtl === false || this.#connection.cluster
        ? undefined
        : new Fences(this.#connection, this.prefix, fenceTtl ?? 60_000);
  }

  /** The ioredis client (`Redis` or `Cluster`) the store uses. */
  get client(): RedisClient {
    return this.#connection.client;
  }

  /** Returns the entry, or `undefined` on a miss; batched with the other reads of this tick. */
  get(key: string): Promise<CacheEntry | undefined> {
    return this.#connection.get(this.prefix + key, this.serializer);
  }

  /** Returns the entries of `keys`, in order, with one `MGET` (one per slot on a Cluster). */
  async getMany(keys: string[]): Promise<(CacheEntry | undefined)[]> {
    const texts = await this.#connection.mget(keys.map((key) => this.prefix + key));
    const now = Date.now();
    return texts.map((text) =>
      text == null ? undefined : decodeEntry(text, this.serializer, now),
    );
  }

  /**
   * Stores the entry with `SET … PX` until `staleUntil ?? expiresAt`; an entry already past it
   * is removed instead. Rejects with a `SerializationError` when the value cannot be encoded.
   *
   * With fences on ({@link RedisStoreOptions.fenceTtl}), the write also fences the key; a load's
   * write (`options.since`) is instead refused, storing nothing, when any process wrote or
   * deleted the key, or cleared the store, at or after the moment the load began (mapped onto the
   * Redis clock, never later than it was: see `RedisClock`). Counted in `refusedWrites`.
   */
  set(key: string, entry: CacheEntry, options?: StoreWriteOptions): Promise<void> {
    try {
      const write: FenceWrite = {
        redisKey: this.prefix + key,
        key,
        text: encodeEntry(entry, this.serializer),
        ttl: ttlOf(entry, Date.now()),
      };
      const fences = key.startsWith(RESERVED_PREFIX) ? undefined : this.#fences;
      const since = options?.since;
      // A load's write, the one of every miss: handed on as it is, with no promise of its own.
      if (fences && since !== undefined && write.ttl !== 0) return fences.writeLoaded(write, since);
      return this.#set(write, fences, since);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #set(
    write: FenceWrite,
    fences: Fences | undefined,
    since: number | undefined,
  ): Promise<void> {
    const { redisKey, key, text, ttl } = write;
    if (ttl === 0) {
      // A load's write of an entry already expired removes it, but fences nothing.
      if (fences && since === undefined) await fences.delete([key]);
      else await this.#connection.unlink([redisKey]);
    } else if (fences) {
      await fences.write(write);
    } else if (ttl === undefined) {
      await this.#connection.send((client) => client.set(redisKey, text));
    } else {
      await this.#connection.send((client) => client.set(redisKey, text, 'PX', ttl));
    }
  }

  /**
   * Stores every entry (explicit writes: fenced like {@link set}'s): one pipeline on a single
   * node, concurrent commands on a Cluster.
   */
  async setMany(entries: [key: string, entry: CacheEntry][]): Promise<void> {
    if (entries.length === 0) return;
    const now = Date.now();
    const writes = entries.map(([key, entry]) => ({
      key,
      redisKey: this.prefix + key,
      text: encodeEntry(entry, this.serializer),
      ttl: ttlOf(entry, now),
    }));
    if (isCluster(this.client)) {
      await Promise.all(
        writes.map(({ redisKey, text, ttl }) =>
          ttl === 0
            ? this.#connection.unlink([redisKey])
            : this.#connection.run((client) =>
                ttl === undefined
                  ? client.set(redisKey, text)
                  : client.set(redisKey, text, 'PX', ttl),
              ),
        ),
      );
      return;
    }
    // Fenced in the same pipeline, before the writes: a few scripts for all the keys (one per
    // 1,000), then plain SETs. A load's write between a fence and its SET is refused.
    const fences = this.#fences;
    const fenced = (write: (typeof writes)[number]) =>
      fences !== undefined && !write.key.startsWith(RESERVED_PREFIX);
    const removed = writes.filter((write) => write.ttl === 0 && fenced(write));
    const kept = writes.filter((write) => !(write.ttl === 0 && fenced(write)));
    let queued = 0;
    const [results] = await Promise.all([
      this.#connection.run((client) => {
        const pipeline = (client as Redis).pipeline();
        const keys = kept.filter(fenced).map((write) => write.key);
        queued = fences?.queue(client as Redis, pipeline, keys) ?? 0;
        for (const { redisKey, text, ttl } of kept) {
          if (ttl === 0) pipeline.unlink(redisKey);
          else if (ttl === undefined) pipeline.set(redisKey, text);
          else pipeline.set(redisKey, text, 'PX', ttl);
        }
        return pipeline.exec();
      }),
      removed.length > 0 ? fences?.delete(removed.map((write) => write.key)) : undefined,
    ]);
    const failed =
      fences?.settle(this.client as Redis, results?.slice(0, queued) ?? []) ??
      results?.slice(queued).find(([error]) => error)?.[0];
    if (failed) {
      throw new StoreError(this.name, `setMany failed: ${failed.message}`, { cause: failed });
    }
  }

  /**
   * Writes the cache's tag records unless what Redis holds is newer: one Lua script per call
   * (per slot on a Cluster) merges each into the stored record, atomically against every other
   * process's write of it (see `mergeTagRecord` of `@cache/core`), and stores the result in the
   * JSON format whatever the serializer. A record another serializer's `set` wrote is decoded
   * here and merged again unless it changed meanwhile (see `tagRecordMerge.ts`). Like every
   * write of the cache's own records, it fences nothing.
   */
  async mergeTagRecords(records: [key: string, entry: CacheEntry][]): Promise<void> {
    if (records.length === 0) return;
    await mergeTagRecords(this.#connection, this.prefix, this.serializer, records);
  }

  /**
   * A stamp off the Redis server's clock (ms since the epoch, with microseconds), above every
   * one it gave before to any process sharing this prefix (kept under `__cache:stamp`).
   */
  async stamp(): Promise<number> {
    const key = `${this.prefix}${RESERVED_PREFIX}stamp`;
    return Number(await this.#connection.run((client) => STAMP.run(client, [key], [])));
  }

  /** Removes the key with `UNLINK` (and fences it); returns whether it existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.deleteMany([key])) > 0;
  }

  /** Removes the keys with `UNLINK` (one per slot on a Cluster), fencing them; returns how many existed. */
  deleteMany(keys: string[]): Promise<number> {
    if (this.#fences === undefined || keys.length === 0) {
      return this.#connection.unlink(keys.map((key) => this.prefix + key));
    }
    return this.#fences.delete(keys);
  }

  /**
   * Soft invalidation: rewrites each entry of `keys` with `expiresAt` 0 (`SOFT_EXPIRED`), its
   * value, grace and TTL unchanged, so a cache serves it only as a grace fallback; removes one
   * without grace. One Lua script per call (per slot on a Cluster), atomic per key against
   * concurrent writes. Returns how many existed.
   */
  async expire(keys: string[]): Promise<number> {
    // Fenced first, in the same tick (so in issue order with the tick's other commands): a load
    // that began before this invalidation must not store over it.
    const fenced = keys.length > 0 ? this.#fences?.fence(keys) : undefined;
    const redisKeys = keys.map((key) => this.prefix + key);
    if (!isCluster(this.client)) {
      const [count] = await Promise.all([this.#expireOn(undefined, redisKeys), fenced]);
      return count;
    }
    const counts = await Promise.all(
      [...groupBySlot(redisKeys).values()].map((indexes) =>
        this.#expireOn(
          undefined,
          indexes.map((i) => redisKeys[i]!),
        ),
      ),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /**
   * {@link RedisStore.expire} for every key of this store that starts with `prefix` (`''`: all
   * of them) except the cache's own records (keys starting with `__cache:`), walked with `SCAN`
   * on every master of a Cluster.
   */
  async expirePrefix(prefix: string): Promise<void> {
    await this.#fences?.all();
    await this.#eachMatching(escapeGlob(this.prefix + prefix) + '*', true, (node, keys) =>
      isCluster(this.client)
        ? Promise.all(
            [...groupBySlot(keys).values()].map((indexes) =>
              this.#expireOn(
                node,
                indexes.map((i) => keys[i]!),
              ),
            ),
          ).then((counts) => counts.reduce((sum, count) => sum + count, 0))
        : this.#expireOn(node, keys),
    );
  }

  // Runs the EXPIRE script over `keys` (of one slot on a Cluster), on `node` or the client.
  async #expireOn(node: Redis | undefined, keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return Number(await this.#connection.run((client) => EXPIRE.run(node ?? client, keys, [])));
  }

  /**
   * Removes every key of this store that starts with `prefix` except the cache's own records
   * (keys starting with `__cache:`), or every key under {@link RedisStoreOptions.prefix},
   * records included, without one; with `SCAN` and `UNLINK` in batches, on every master of a
   * Cluster. Glob characters in the prefixes match literally. Never `KEYS` or `FLUSHDB`.
   */
  async clear(prefix = ''): Promise<void> {
    await this.#fences?.all();
    await this.#unlinkMatching(escapeGlob(this.prefix + prefix) + '*', prefix !== '');
    // A clear of everything removed the fence too.
    if (prefix === '') await this.#fences?.all();
  }

  /**
   * Removes every key of this store matching the Redis glob `pattern` (`*`, `?`, `[...]`, `\`
   * escapes), such as `'*:123:*'`, except the cache's own records (keys starting with
   * `__cache:`), with `SCAN MATCH` and `UNLINK` in batches, on every master of a Cluster; the
   * store's own prefix is matched literally. Returns how many it removed. Throws an
   * `InvalidArgumentError` for an empty or unterminated pattern.
   */
  async deletePattern(pattern: string): Promise<number> {
    globToRegExp(pattern); // throws InvalidArgumentError for an empty or unterminated glob
    await this.#fences?.all();
    return this.#unlinkMatching(escapeGlob(this.prefix) + pattern, true);
  }

  // `spareRecords`: leave the keys under RESERVED_PREFIX (after the store's prefix) in place.
  #unlinkMatching(match: string, spareRecords: boolean): Promise<number> {
    return this.#eachMatching(match, spareRecords, (node, keys) => this.#unlinkOn(node, keys));
  }

  // Calls `act` with each batch of keys `SCAN` finds on each master; sums what it returns.
  async #eachMatching(
    match: string,
    spareRecords: boolean,
    act: (node: Redis, keys: string[]) => Promise<number>,
  ): Promise<number> {
    const client = this.client;
    // A Cluster knows its masters only once connected: wait for that (within the timeout).
    if (client.status !== 'ready') await this.#connection.run((ready) => ready.ping());
    const nodes = isCluster(client) ? client.nodes('master') : [client];
    const reserved = spareRecords ? this.prefix + RESERVED_PREFIX : undefined;
    const counts = await Promise.all(
      nodes.map((node) => this.#eachOnNode(node, match, reserved, act)),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async #eachOnNode(
    node: Redis,
    match: string,
    reserved: string | undefined,
    act: (node: Redis, keys: string[]) => Promise<number>,
  ): Promise<number> {
    const count = String(this.#scanCount);
    let removed = 0;
    let cursor = '0';
    do {
      const [next, found] = await this.#connection.run(() =>
        node.scan(cursor, 'MATCH', match, 'COUNT', count),
      );
      cursor = next;
      const keys =
        reserved === undefined ? found : found.filter((key) => !key.startsWith(reserved));
      if (keys.length > 0) removed += await act(node, keys);
    } while (cursor !== '0');
    return removed;
  }

  async #unlinkOn(node: Redis, keys: string[]): Promise<number> {
    if (!isCluster(this.client)) return this.#connection.run(() => node.unlink(keys));
    // The keys of one node span many slots, and a multi-key UNLINK must stay in one slot.
    const results = await this.#connection.run(() => {
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      return pipeline.exec();
    });
    let removed = 0;
    for (const [, unlinked] of results ?? []) removed += Number(unlinked) || 0;
    return removed;
  }

  /**
   * Returns a view of this store that encodes values with `serializer`; it shares this store's
   * connection, batcher and circuit breaker, so closing either closes both.
   */
  withSerializer(serializer: Serializer): RedisStore {
    sharedConnection = this.#connection;
    try {
      return new RedisStore({
        prefix: this.prefix,
        serializer,
        scanCount: this.#scanCount,
        fenceTtl: this.#fences?.ttl ?? false,
      });
    } finally {
      sharedConnection = undefined;
    }
  }

  /** Counters of the connection (commands, batched keys, failures, timeouts, breaker state) and refused writes. */
  stats(): RedisStoreStats {
    return { ...this.#connection.stats(), refusedWrites: this.#fences?.refused ?? 0 };
  }

  /**
   * Listens to `'breaker'` (the circuit opened, half-opened or closed), `'warning'` (a risky
   * server setting such as `maxmemory-policy noeviction`) or `'connectionError'` (the client the
   * store created lost Redis; it keeps reconnecting). Returns a function that removes the listener.
   */
  on<E extends keyof RedisEvents>(event: E, listener: RedisEvents[E]): () => void {
    return this.#connection.events.on(event, listener);
  }

  /** Stops using Redis: quits the client if the store created it, leaves a given one open. */
  close(): Promise<void> {
    this.#fences?.close();
    return this.#connection.close();
  }
}

/**
 * Creates a {@link RedisStore}: pass an existing ioredis `client` (a `Redis` or a `Cluster`), or
 * ioredis options / a `url` and the store creates (and on `close()` quits) its own client.
 *
 * @example
 * ```ts
 * const store = redisStore({ url: 'redis://localhost:6379', prefix: 'app:' });
 * ```
 */
export function redisStore(options: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(options);
}
