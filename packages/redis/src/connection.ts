import { setImmediate } from 'node:timers';
import type { CacheEntry, Serializer } from '@cache/core';
import { channels, StoreError } from '@cache/core';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './breaker.js';
import { decodeEntry } from './codec.js';
import { Emitter } from './emitter.js';
import { groupBySlot } from './slot.js';

/** An ioredis client: a single node (`Redis`) or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** How to reach Redis: an existing client, or options to create one. */
export interface RedisConnectionOptions extends RedisOptions {
  /**
   * An existing ioredis `Redis` or `Cluster` client to use. The store never quits a client it
   * did not create. When set, the ioredis options are ignored.
   */
  client?: RedisClient;
  /** A `redis://` URL for the client the store creates; ioredis options apply on top of it. */
  url?: string;
  /**
   * Time in ms after which an operation rejects with a `StoreError` of code `E_STORE_TIMEOUT`.
   * It also bounds the wait for the first connection.
   * @default 1000
   */
  timeout?: number;
  /**
   * The circuit breaker; `false` turns it off.
   * @default { threshold: 5, resetTimeout: 1000 }
   */
  breaker?: CircuitBreakerOptions | false;
}

/**
 * ioredis options of the clients a store or bus creates, so that they are back soon after Redis
 * is: reconnection attempts at most 1 s apart (ioredis 6 waits up to 5 s), and, while a
 * restarted server loads its data, a check every 100 ms of whether it is done (ioredis waits the
 * server's whole estimate, at least 1 s, up to 10 s). Until a client is back, its process's
 * writes, and the invalidations they carry, cannot reach the others.
 */
export const BACK_SOON: Pick<RedisOptions, 'retryStrategy' | 'maxLoadingRetryTime'> = {
  retryStrategy: (times) => Math.min(50 * 2 ** (times - 1), 1000) + Math.floor(Math.random() * 50),
  maxLoadingRetryTime: 100,
};

/** A warning about the Redis server's configuration. */
export interface RedisWarning {
  /** `'E_NOEVICTION'`: the server has a `maxmemory` and refuses writes instead of evicting. */
  code: string;
  /** What is wrong and what to do. */
  message: string;
}

/** The events of a Redis store, a lock or a bus connection. */
export interface RedisEvents {
  /** The circuit breaker changed state. */
  breaker: (state: BreakerState) => void;
  /** The server's configuration is risky for a cache (see {@link RedisWarning}). */
  warning: (warning: RedisWarning) => void;
  /** The client the store created reported a connection error (it keeps reconnecting). */
  connectionError: (error: Error) => void;
}

/** Counters of a Redis connection, since it was created. */
export interface RedisStats {
  /** Commands (or pipelines) sent to Redis. */
  commands: number;
  /** Keys read through coalesced `MGET`s. */
  batchedKeys: number;
  /** Operations that failed: timeouts, lost connection or Redis errors. */
  failures: number;
  /** Operations that timed out. */
  timeouts: number;
  /** Operations refused without calling Redis because the circuit was open or the client offline. */
  rejected: number;
  /** Times the circuit opened. */
  breakerOpened: number;
  /** The circuit breaker's state now. */
  breaker: BreakerState;
}

interface Waiter {
  serializer: Serializer;
  resolve: (entry: CacheEntry | undefined) => void;
  reject: (error: unknown) => void;
}

const NAME = 'redis';

/** Whether the client is a `Cluster`. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * The part of a Redis store that views with other serializers share: the client, the per-tick
 * read batcher, the corked writes of a tick, timeouts and the circuit breaker. Every method
 * rejects with a `StoreError`.
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly cluster: boolean;
  readonly events = new Emitter<RedisEvents>();
  readonly #owned: boolean;
  readonly #timeout: number;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #counters = {
    commands: 0,
    batchedKeys: 0,
    failures: 0,
    timeouts: 0,
    rejected: 0,
    breakerOpened: 0,
  };
  #everReady = false;
  #probeTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #ready: Promise<void> | undefined;
  #keys: string[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  readonly #flush = () => this.#flushBatch();
  #corked: { uncork(): void } | undefined;
  readonly #uncork = () => {
    this.#corked?.uncork();
    this.#corked = undefined;
  };
  readonly #detach: () => void;
  // Batches held back until the event loop's check phase or the next command (see hold), and
  // the keys they write.
  #held: (() => void)[] = [];
  readonly #heldKeys = new Set<string>();
  readonly #release = () => {
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    this.#heldKeys.clear();
    for (const send of held) send();
  };

  constructor(options: RedisConnectionOptions, { checkMemoryPolicy = true } = {}) {
    const { client, url, timeout, breaker, ...redisOptions } = options;
    this.#timeout = timeout ?? 1000;
    if (client) {
      this.client = client;
      this.#owned = false;
    } else {
      // No offline queue: while Redis is unreachable a command must fail now, not wait for a
      // reconnection that may never come. The first connection is awaited by #run instead.
      // Back soon after an outage (see BACK_SOON).
      const created = {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        ...BACK_SOON,
        ...redisOptions,
      };
      this.client = url ? new Redis(url, created) : new Redis(created);
      this.#owned = true;
    }
    this.cluster = isCluster(this.client);
    this.#breaker =
      breaker === false
        ? undefined
        : new CircuitBreaker(breaker ?? {}, (state) => {
            if (state === 'open') {
              this.#counters.breakerOpened++;
              this.#scheduleProbe(breaker?.resetTimeout ?? 1000);
            }
            this.events.emit('breaker', state);
            if (channels.breaker.hasSubscribers)
              channels.breaker.publish({ store: 'redis', state });
          });
    const onReady = () => {
      const first = !this.#everReady;
      this.#everReady = true;
      this.#breaker?.success();
      if (first && checkMemoryPolicy) void this.#checkMemoryPolicy();
    };
    const onError = (error: Error) => this.events.emit('connectionError', error);
    this.client.on('ready', onReady);
    if (this.#owned) this.client.on('error', onError);
    this.#detach = () => {
      this.client.off('ready', onReady);
      this.client.off('error', onError);
    };
    if (this.client.status === 'ready') onReady();
  }

  /** The counters. */
  stats(): RedisStats {
    return { ...this.#counters, breaker: this.#breaker?.state ?? 'closed' };
  }

  /** Reads one key through the per-tick batch: concurrent reads go out as one `MGET` per slot. */
  get(key: string, serializer: Serializer): Promise<CacheEntry | undefined> {
    return new Promise((resolve, reject) => {
      this.#keys.push(key);
      this.#waiters.push({ serializer, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(this.#flush);
      }
    });
  }

  /**
   * Runs `operation` like {@link RedisConnection.run}, then holds the client's socket corked for
   * the rest of the tick: this command goes out at once, and whatever any user of the client
   * sends after it in the same tick (200 concurrent misses storing their values, say) reaches
   * the socket as one write at the end of the tick, in the order it was issued.
   *
   * @example connection.send((client) => client.set(key, text, 'PX', ttl))
   */
  send<T>(operation: (client: RedisClient) => Promise<T>): Promise<T> {
    const sent = this.#run(() => operation(this.client));
    if (this.#corked === undefined && !this.cluster) {
      const socket = (this.client as Redis).stream;
      if (socket !== undefined && !socket.destroyed) {
        socket.cork();
        this.#corked = socket;
        process.nextTick(this.#uncork);
      }
    }
    return sent;
  }

  /**
   * Holds back a batch of commands that `send` issues (through this connection) until the event
   * loop's check phase (`setImmediate`), or until another command goes out through this
   * connection first: the batch keeps its place in the issue order (a load's write held back
   * still goes out before a delete of the key issued after it), while the writes of every reply
   * the loop handled share one command. A read of keys ({@link RedisConnection.get},
   * {@link RedisConnection.mget}: an `MGET`) goes first, unless it reads a key the batch writes
   * (see {@link RedisConnection.holding}): then the batch goes before it. Only this connection's
   * commands are ordered so: another connection on the same client (a second store) may read
   * ahead of the batch.
   */
  hold(send: () => void): void {
    this.#held.push(send);
    // node:timers' setImmediate, not the global one a test may fake (vitest's and Jest's fake
    // timers do): held writes must reach Redis, whose answers no fake clock drives.
    if (this.#held.length === 1) setImmediate(this.#release);
  }

  /** Notes that a batch {@link RedisConnection.hold}s back a write of `key` (its Redis key). */
  holding(key: string): void {
    this.#heldKeys.add(key);
  }

  // Whether a read of `keys` may go before the batches held back: none of them writes these keys
  // (every held batch notes its keys with `holding` before it is held).
  #readsPast(keys: readonly string[]): boolean {
    for (const key of keys) if (this.#heldKeys.has(key)) return false;
    return true;
  }

  #flushBatch(): void {
    const keys = this.#keys;
    const waiters = this.#waiters;
    this.#keys = [];
    this.#waiters = [];
    this.#scheduled = false;
    this.#counters.batchedKeys += keys.length;
    if (!this.cluster) {
      this.#run(() => this.client.mget(keys), keys).then(
        (texts) => settle(texts, waiters),
        (error) => {
          for (const waiter of waiters) waiter.reject(error);
        },
      );
      return;
    }
    for (const { groups, replies } of this.#perNode('mget', keys)) {
      replies.then(
        (results) => {
          for (let j = 0; j < groups.length; j++) {
            const group = groups[j]!.map((i) => waiters[i]!);
            const [error, texts] = results[j]!;
            if (error) for (const waiter of group) waiter.reject(error);
            else settle(texts as (string | null)[], group);
          }
        },
        (error) => {
          for (const indexes of groups) for (const i of indexes) waiters[i]!.reject(error);
        },
      );
    }
  }

  /**
   * Sends one `command` per hash slot of `keys`, pipelined per master: one round trip per node
   * instead of one per slot. Each node's replies come back in the order of its slot groups.
   */
  #perNode(
    command: 'mget' | 'unlink',
    keys: string[],
  ): { groups: number[][]; replies: Promise<[StoreError | null, unknown][]> }[] {
    const cluster = this.client as Cluster;
    const nodes = new Map<string, number[][]>();
    for (const [slot, indexes] of groupBySlot(keys)) {
      // ioredis pipelines a Cluster only when every command maps to the same nodes.
      const node = cluster.slots[slot]?.join() ?? `slot ${slot}`;
      const groups = nodes.get(node);
      if (groups) groups.push(indexes);
      else nodes.set(node, [indexes]);
    }
    return [...nodes.values()].map((groups) => ({
      groups,
      replies: this.#run(
        async () => {
          const pipeline = cluster.pipeline();
          for (const indexes of groups) pipeline[command](indexes.map((i) => keys[i]!));
          const results = (await pipeline.exec()) ?? [];
          return results.map(([error, reply]): [StoreError | null, unknown] => [
            error ? commandError(error) : null,
            reply,
          ]);
        },
        command === 'mget' ? keys : undefined,
      ),
    }));
  }

  /** Reads `keys` as one `MGET` (one per slot on a Cluster); raw texts, `null` for a miss. */
  async mget(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    if (!this.cluster) return this.#run(() => this.client.mget(keys), keys);
    const texts: (string | null)[] = new Array(keys.length).fill(null);
    await this.#eachGroup('mget', keys, (indexes, reply) => {
      indexes.forEach((index, j) => {
        texts[index] = (reply as (string | null)[])[j] ?? null;
      });
    });
    return texts;
  }

  /** Removes `keys` with `UNLINK` (one per slot on a Cluster); returns how many existed. */
  async unlink(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (!this.cluster) return this.#run(() => this.client.unlink(keys));
    let count = 0;
    await this.#eachGroup('unlink', keys, (_, reply) => {
      count += reply as number;
    });
    return count;
  }

  async #eachGroup(
    command: 'mget' | 'unlink',
    keys: string[],
    onReply: (indexes: number[], reply: unknown) => void,
  ): Promise<void> {
    await Promise.all(
      this.#perNode(command, keys).map(async ({ groups, replies }) => {
        const results = await replies;
        for (let j = 0; j < groups.length; j++) {
          const [error, reply] = results[j]!;
          if (error) throw error;
          onReply(groups[j]!, reply);
        }
      }),
    );
  }

  /**
   * Runs one Redis operation under the timeout and the circuit breaker. Fails fast with
   * `E_STORE_UNAVAILABLE` while the circuit is open or the client has lost its connection.
   */
  run<T>(operation: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.#run(() => operation(this.client));
  }

  // `reads`: the keys the operation only reads, so that it may go ahead of the batches held back
  // (see hold); any other operation sends them first.
  #run<T>(operation: () => Promise<T>, reads?: readonly string[]): Promise<T> {
    if (this.#held.length > 0 && (reads === undefined || !this.#readsPast(reads))) this.#release();
    if (this.#closed) {
      return Promise.reject(
        new StoreError(NAME, 'the store is closed', { code: 'E_STORE_CLOSED' }),
      );
    }
    const breaker = this.#breaker;
    if (breaker && breaker.state !== 'closed') {
      return this.#reject('the circuit breaker is open after repeated failures');
    }
    const status = this.client.status;
    if (status === 'ready') return this.#guard(operation, false);
    if (this.#everReady || status === 'end' || status === 'close') {
      this.#failure();
      return this.#reject(`the connection is lost (status: ${status})`);
    }
    // Never connected yet: wait for the first connection, within the operation's timeout.
    if (status === 'wait') this.client.connect().catch(() => {});
    return this.#guard(operation, true);
  }

  #reject(reason: string): Promise<never> {
    this.#counters.rejected++;
    return Promise.reject(new StoreError(NAME, reason, { code: 'E_STORE_UNAVAILABLE' }));
  }

  #guard<T>(operation: () => Promise<T>, awaitReady: boolean): Promise<T> {
    this.#counters.commands++;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.#counters.timeouts++;
        this.#failure();
        reject(
          new StoreError(NAME, `the operation timed out after ${this.#timeout}ms`, {
            code: 'E_STORE_TIMEOUT',
          }),
        );
      }, this.#timeout);
      let pending: Promise<T | undefined>;
      try {
        pending = awaitReady
          ? this.#whenReady().then(() => (settled ? undefined : operation()))
          : operation();
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.#breaker?.success();
          resolve(value as T);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (isReplyError(error)) {
            // Redis answered: it is alive, the command was wrong.
            reject(commandError(error));
            return;
          }
          this.#failure();
          reject(
            new StoreError(NAME, `Redis is unavailable: ${messageOf(error)}`, {
              cause: error,
              code: 'E_STORE_UNAVAILABLE',
            }),
          );
        },
      );
    });
  }

  #failure(): void {
    this.#counters.failures++;
    this.#breaker?.failure();
  }

  #whenReady(): Promise<void> {
    this.#ready ??= new Promise((resolve) => this.client.once('ready', () => resolve()));
    return this.#ready;
  }

  #scheduleProbe(delay: number): void {
    clearTimeout(this.#probeTimer);
    this.#probeTimer = setTimeout(() => this.#probe(), delay);
    this.#probeTimer.unref();
  }

  // Half-opens the circuit and sends one PING: its answer closes the circuit, a failure reopens
  // it (and schedules the next probe).
  #probe(): void {
    const breaker = this.#breaker!;
    if (this.#closed || breaker.state !== 'open') return;
    breaker.probing();
    if (this.client.status !== 'ready') {
      breaker.failure();
      return;
    }
    this.#guard(() => this.client.ping(), false).catch(() => {});
  }

  async #checkMemoryPolicy(): Promise<void> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    for (const node of nodes) {
      try {
        const config = configMap(await node.config('GET', 'maxmemory*'));
        if (config.get('maxmemory-policy') === 'noeviction' && Number(config.get('maxmemory'))) {
          this.events.emit('warning', {
            code: 'E_NOEVICTION',
            message:
              `[cache] [redis] ${node.options.host}:${node.options.port} has maxmemory ` +
              `${config.get('maxmemory')} with maxmemory-policy noeviction: once full, every ` +
              'cache write fails. Use allkeys-lru (or volatile-lru when the database also holds ' +
              'data that must not be evicted).',
          });
          return;
        }
      } catch {
        // CONFIG is often disabled on managed Redis: the check is advisory.
      }
    }
  }

  /** Stops using the client; quits it when the store created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Batches held back were issued before the close: they go out first, as they would have.
    this.#release();
    this.#closed = true;
    clearTimeout(this.#probeTimer);
    this.#detach();
    if (!this.#owned) return;
    try {
      await this.#guardQuit();
    } catch {
      this.client.disconnect();
    }
  }

  #guardQuit(): Promise<unknown> {
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return Promise.resolve();
    }
    return Promise.race([
      this.client.quit(),
      new Promise((_, reject) => setTimeout(reject, this.#timeout).unref()),
    ]);
  }
}

function settle(texts: (string | null)[], waiters: Waiter[]): void {
  const now = Date.now();
  for (let i = 0; i < waiters.length; i++) {
    const waiter = waiters[i]!;
    const text = texts[i];
    if (text == null) {
      waiter.resolve(undefined);
      continue;
    }
    try {
      waiter.resolve(decodeEntry(text, waiter.serializer, now));
    } catch (error) {
      waiter.reject(error);
    }
  }
}

/**
 * Whether Redis answered `error` (a wrong command, `WRONGTYPE`, a script error): the server is
 * alive. Checked by name, not `instanceof`: a client passed in may come from another copy or
 * major version of ioredis than the one this package imports, and ioredis 6 throws subclasses
 * (`SimpleError`, `BlobError`) named `ReplyError`.
 */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

// CONFIG GET answers a flat [name, value, ...] array, or an object from an ioredis 6 client
// created with `replyMapping: 'resp3'`.
function configMap(reply: unknown): Map<string, string> {
  if (!Array.isArray(reply)) return new Map(Object.entries(reply as Record<string, string>));
  const config = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) config.set(reply[i], reply[i + 1]);
  return config;
}

function commandError(error: unknown): StoreError {
  return new StoreError(NAME, `command failed: ${messageOf(error)}`, { cause: error });
}

/** The message of an error, or the thrown value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
