import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Cache,
  channels,
  type Duration,
  InvalidArgumentError,
  isTraced,
  parseDuration,
  type SetOptions,
  traced,
} from '@cache/core';
import { QueueFullError, WriteBehindClosedError, WriteBehindCloseTimeoutError } from './errors.js';
import type {
  WriteBehindEvents,
  WriteBehindListener,
  WriteBehindOperation,
  WriteBehindStats,
} from './events.js';
import { memoryQueue } from './memoryQueue.js';
import { type PendingWrite, PendingWrites } from './pendingWrites.js';
import type { WriteBehindEntry, WriteQueue } from './queue.js';
import { Watermarks } from './watermarks.js';

/** Writes one batch to the database; throws (or rejects) when it did not commit. */
export type BatchWriter<V> = (batch: WriteBehindEntry<V>[]) => unknown;

/** Deletes keys from the database; throws (or rejects) when it did not commit. */
export type BatchRemover = (keys: string[]) => unknown;

/** How a failing batch is retried. Delays grow ×2 per attempt, each jittered down by up to half. */
export interface RetryOptions {
  /** Attempts after the first before the batch is split and its failing rows dead-lettered. @default 10 */
  retries?: number;
  /** Delay before the first retry. @default '100ms' */
  minDelay?: Duration;
  /** Longest delay between two attempts. @default '10s' */
  maxDelay?: Duration;
}

/** Options of {@link writeBehind}. Durations are ms or strings such as `'500ms'`, `'1s'`. */
export interface WriteBehindOptions<V = unknown> {
  /**
   * Writes one batch to the database: one row per key, in the order of each key's last write. It
   * must be idempotent (an upsert): after a crash a batch may be delivered again.
   */
  write: BatchWriter<V>;
  /**
   * Deletes the keys of a batch's deletes from the database (a batch's writes go to `write`
   * first). Required by {@link WriteBehind.delete}; like `write`, it must be idempotent.
   */
  remove?: BatchRemover;
  /** The cache `write()` updates at once. Leave it out in a process that only drains a queue. */
  cache?: Cache;
  /** The longest a write waits in the queue before a flush starts. @default '1s' */
  flushInterval?: Duration;
  /** The most writes taken off the queue per batch; a full batch is flushed at once. @default 1000 */
  maxBatch?: number;
  /**
   * The most writes the queue holds before `write()` waits or rejects (see `onFull`); at least
   * `maxBatch`, or `Infinity` for no limit.
   * @default 100_000
   */
  maxQueue?: number;
  /**
   * What `write()` does when the queue is full: `'wait'` until a flush makes room (in call
   * order), or `'reject'` with {@link QueueFullError}.
   * @default 'wait'
   */
  onFull?: 'wait' | 'reject';
  /**
   * How many batches may be written at once. Batches written together never share a key, so a
   * key's writes stay in order; above 1 the writer must allow concurrent calls (a `pg.Pool`
   * does, one `pg.Client` running a transaction does not).
   * @default 1
   */
  concurrency?: number;
  /** Retries of a failing batch. */
  retry?: RetryOptions;
  /** Where writes wait. @default memoryQueue() */
  queue?: WriteQueue<V>;
  /**
   * Receives rows that failed every retry, and writes the queue could not decode (with
   * `entry.undecodable`); they are not written again. Each is also a `deadLettered` event and
   * counts in `stats().deadLettered`.
   */
  deadLetter?: (entries: WriteBehindEntry<V>[], error: unknown) => unknown;
  /**
   * The longest `close()` waits for the queue to drain while the queue or the database keeps
   * failing; then it rejects with {@link WriteBehindCloseTimeoutError}, leaving what is left in a
   * durable queue (a memory queue's writes are lost: the `abandoned` event and counter).
   * `Infinity` waits for ever.
   * @default '60s'
   */
  closeTimeout?: Duration;
}

interface Retry {
  retries: number;
  minDelay: number;
  maxDelay: number;
}

type Outcome = { ok: true } | { ok: false; error: unknown };
const OK: Outcome = { ok: true };

const EVENT_NAMES: (keyof WriteBehindEvents)[] = [
  'queued',
  'flushed',
  'retried',
  'deadLettered',
  'superseded',
  'abandoned',
  'uncached',
  'error',
];

// Keys whose newest committed sequence a process remembers (see Watermarks).
const WATERMARKS = 100_000;

/**
 * Creates a {@link WriteBehind}: `write(key, value)` updates the cache at once and queues the
 * write; a flusher writes the queue to the database in batches. Throws
 * {@link InvalidArgumentError} naming the option for bad options.
 *
 * @example
 * const users = writeBehind({ cache, write: (batch) => upsertUsers(pool, batch) });
 * await users.write('user:1', { name: 'Ada' }); // cached now, in PostgreSQL within a second
 * process.once('SIGTERM', () => users.close());
 */
export function writeBehind<V = unknown>(options: WriteBehindOptions<V>): WriteBehind<V> {
  return new WriteBehind(options);
}

/**
 * Write-behind over a cache and a database. Writes are coalesced per key within a batch, a key's
 * writes reach the database in order, failing batches are retried with backoff and jitter, rows
 * that keep failing go to the dead-letter handler, and `close()` drains the queue. Create it with
 * {@link writeBehind}.
 */
export class WriteBehind<V = unknown> {
  readonly #write: BatchWriter<V>;
  readonly #remove: BatchRemover | undefined;
  readonly #cache: Cache | undefined;
  readonly #queue: WriteQueue<V>;
  readonly #interval: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #concurrency: number;
  readonly #reject: boolean;
  readonly #retry: Retry;
  readonly #deadLetter: WriteBehindOptions<V>['deadLetter'];
  readonly #closeTimeout: number;
  readonly #emitter = new EventEmitter();
  readonly #listening = Object.fromEntries(EVENT_NAMES.map((name) => [name, false])) as Record<
    keyof WriteBehindEvents,
    boolean
  >;
  readonly #stats: Omit<WriteBehindStats, 'depth' | 'flushLatency'> = {
    queued: 0,
    flushed: 0,
    coalesced: 0,
    batches: 0,
    retried: 0,
    deadLettered: 0,
    superseded: 0,
    abandoned: 0,
    uncached: 0,
    errors: 0,
  };
  readonly #watermarks = new Watermarks(WATERMARKS);
  readonly #pending = new PendingWrites<V>();
  readonly #latency = { last: 0, total: 0, max: 0, count: 0 };
  // Writers waiting for room in the queue, in call order, and how many were let in but not queued yet.
  readonly #waiting: (() => void)[] = [];
  #admitted = 0;
  // Pushes to the queue not settled yet (a durable queue's round trip).
  #pushing = 0;
  // One promise per write or delete called and not yet in the queue (or failed), for flush().
  readonly #accepting = new Set<Promise<void>>();
  // Callers of flush() waiting for the queue to be empty.
  readonly #flushing: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  // Set when a full batch or flush() came while the flusher ran, so that it takes again.
  #demand = false;
  #wake: (() => void) | undefined;
  // Takes that failed in a row: while flush() waits, the next take comes after a backoff.
  #takeFailures = 0;
  // Set when close() gave up: the flusher stops.
  #stopped = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link writeBehind}. */
  constructor(options: WriteBehindOptions<V>) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', 'expected an object with a write function');
    }
    if (typeof options.write !== 'function') {
      throw new InvalidArgumentError('write', `expected a function, got ${typeof options.write}`);
    }
    const { cache, queue, deadLetter, remove, onFull = 'wait' } = options;
    if (remove !== undefined && typeof remove !== 'function') {
      throw new InvalidArgumentError('remove', `expected a function, got ${typeof remove}`);
    }
    if (cache !== undefined && typeof cache?.set !== 'function') {
      throw new InvalidArgumentError('cache', 'expected a Cache from createCache()');
    }
    if (
      queue !== undefined &&
      (typeof queue?.push !== 'function' ||
        typeof queue.take !== 'function' ||
        typeof queue.ack !== 'function')
    ) {
      throw new InvalidArgumentError('queue', 'expected a WriteQueue (push, take and ack)');
    }
    if (deadLetter !== undefined && typeof deadLetter !== 'function') {
      throw new InvalidArgumentError('deadLetter', `expected a function, got ${typeof deadLetter}`);
    }
    if (onFull !== 'wait' && onFull !== 'reject') {
      throw new InvalidArgumentError(
        'onFull',
        `expected 'wait' or 'reject', got ${String(onFull)}`,
      );
    }
    this.#write = options.write;
    this.#remove = remove;
    this.#cache = cache;
    this.#queue = queue ?? memoryQueue<V>();
    this.#deadLetter = deadLetter;
    this.#reject = onFull === 'reject';
    this.#interval = parseDuration(options.flushInterval ?? '1s', 'flushInterval');
    this.#maxBatch = count(options.maxBatch ?? 1000, 'maxBatch', 1);
    this.#maxQueue =
      options.maxQueue === Number.POSITIVE_INFINITY
        ? options.maxQueue
        : count(options.maxQueue ?? 100_000, 'maxQueue', this.#maxBatch);
    this.#concurrency = count(options.concurrency ?? 1, 'concurrency', 1);
    this.#closeTimeout =
      options.closeTimeout === Number.POSITIVE_INFINITY
        ? options.closeTimeout
        : parseDuration(options.closeTimeout ?? '60s', 'closeTimeout');
    const retry = options.retry ?? {};
    if (retry === null || typeof retry !== 'object') {
      throw new InvalidArgumentError('retry', 'expected an object such as { retries: 5 }');
    }
    this.#retry = {
      retries: count(retry.retries ?? 10, 'retry.retries', 0),
      minDelay: parseDuration(retry.minDelay ?? '100ms', 'retry.minDelay'),
      maxDelay: parseDuration(retry.maxDelay ?? '10s', 'retry.maxDelay'),
    };
    this.#arm();
  }

  /** The queue writes wait in. */
  get queue(): WriteQueue<V> {
    return this.#queue;
  }

  /**
   * Updates the cache (when there is one) and queues the write. Resolves once the write is in
   * the queue (with the Redis Streams queue: once `XADD` succeeded), so a resolved write survives
   * what the queue survives. When the queue is full it waits for room, or rejects with
   * {@link QueueFullError} if `onFull` is `'reject'`. Rejects with {@link InvalidArgumentError}
   * for an empty key or an `undefined` value, and with {@link WriteBehindClosedError} after `close()`.
   * `options` go to `cache.set` (ttl, tags, …); if the cache rejects them the write is still queued.
   */
  async write(key: string, value: V, options?: SetOptions): Promise<void> {
    checkKey(key);
    if (value === undefined) {
      throw new InvalidArgumentError('value', 'undefined cannot be written; write null instead');
    }
    await this.#enqueue(
      key,
      value,
      () => this.#queue.push(key, value),
      () => this.#cacheSet(key, value, options),
    );
  }

  /**
   * Deletes the key from the cache (when there is one) and queues its delete from the database,
   * in order with the writes: at the flush its key goes to the `remove` function. Resolves, waits
   * or rejects as {@link WriteBehind.write} does. Rejects with {@link InvalidArgumentError} when
   * there is no `remove` option, or the queue cannot hold deletes (no `pushDelete`).
   */
  async delete(key: string): Promise<void> {
    checkKey(key);
    if (this.#remove === undefined) {
      throw new InvalidArgumentError(
        'remove',
        'delete() needs the remove option: a function that deletes keys from the database',
      );
    }
    const queue = this.#queue;
    if (typeof queue.pushDelete !== 'function') {
      throw new InvalidArgumentError('queue', `the ${queue.name} queue cannot hold deletes`);
    }
    await this.#enqueue(
      key,
      undefined,
      () => queue.pushDelete!(key),
      () => this.#cache?.delete(key),
    );
  }

  /**
   * The newest write or delete of `key` that this process queued and has not yet seen committed
   * (or dead-lettered): `{ value, deleted }`, or `undefined` when none is waiting. Writes queued by
   * other processes are not known here.
   */
  pending(key: string): PendingWrite<V> | undefined {
    return this.#pending.get(key);
  }

  /**
   * Read-your-writes for a loader: the value of `key`'s write still in the queue (`undefined` for
   * a queued delete), or else what `loader` returns (the database's row, which is then current).
   * Wrap a `getOrSet` loader in it, so that a miss while a write is queued does not cache the
   * row from before the write.
   *
   * @example
   * const user = await cache.getOrSet(key, () => users.load(key, () => findUser(pool, key)));
   */
  async load<T extends V | undefined>(key: string, loader: () => T | Promise<T>): Promise<T> {
    const pending = this.#pending.get(key);
    if (pending !== undefined) return pending.value as T;
    return loader();
  }

  async #enqueue(
    key: string,
    value: V | undefined,
    push: () => void | string | Promise<void | string>,
    updateCache: () => Promise<unknown> | undefined,
  ): Promise<void> {
    if (this.#closed) throw new WriteBehindClosedError();
    let accepted!: () => void;
    const accepting = new Promise<void>((resolve) => (accepted = resolve));
    this.#accepting.add(accepting);
    let cached: Promise<unknown> | undefined;
    try {
      if (this.#waiting.length > 0 || this.#queue.depth + this.#admitted >= this.#maxQueue) {
        if (this.#reject) throw new QueueFullError(this.#maxQueue);
        await new Promise<void>((resolve) => this.#waiting.push(resolve));
        this.#admitted--;
      }
      // Queue first, synchronously, so writes of a key enter the queue in call order.
      const queued = push();
      const pending = this.#pending.add(key, value);
      if (!this.#queue.durable && this.#queue.depth === 1) this.#timer?.ref();
      if (this.#queue.depth >= this.#maxBatch) this.#start();
      cached = updateCache();
      // Awaited below, unless the push fails first: never an unhandled rejection.
      cached?.catch(() => {});
      if (typeof (queued as PromiseLike<unknown> | undefined)?.then === 'function') {
        this.#pushing++;
        try {
          pending.stored(await queued);
        } catch (error) {
          pending.failed();
          // The cache holds a value the database will never get: take it out again.
          if (value !== undefined && cached !== undefined) {
            await cached.catch(() => {});
            await this.#uncache(key, error);
          }
          throw error;
        } finally {
          this.#pushing--;
        }
      } else {
        pending.stored(queued);
      }
    } finally {
      this.#accepting.delete(accepting);
      accepted();
    }
    this.#stats.queued++;
    if (this.#listening.queued) this.#emit('queued', { key, depth: this.#queue.depth });
    if (cached !== undefined) {
      try {
        await cached;
      } catch (error) {
        this.#fail(error, 'cache');
        throw error;
      }
    }
  }

  // Sets the cache; where it did not take the value, deletes the key so that the old value is not
  // served. A rejection still rejects write() (after the delete); `false` (the store failed, and
  // the cache's own `error` event said why) does not.
  async #cacheSet(key: string, value: V, options: SetOptions | undefined): Promise<void> {
    const cache = this.#cache;
    if (cache === undefined) return;
    let rejected = false;
    let failure: unknown = new Error(`[cache] [write-behind] the cache did not store ${key}`);
    try {
      if (await cache.set(key, value, options)) return;
    } catch (error) {
      rejected = true;
      failure = error;
    }
    await this.#uncache(key, failure);
    if (rejected) throw failure;
  }

  // Deletes `key` from the cache, which does not hold its newest write.
  async #uncache(key: string, error: unknown): Promise<void> {
    this.#stats.uncached++;
    if (this.#listening.uncached) this.#emit('uncached', { key, error });
    await this.#cache?.delete(key);
  }

  /**
   * Writes everything in the queue to the database now. Resolves once every write and delete
   * called before it (also one still waiting for room, or for its `XADD`) was committed by the
   * writer or dead-lettered, and the queue was found empty. Under a steady stream of writes it
   * resolves when the flusher has caught up.
   */
  async flush(): Promise<void> {
    const accepting = [...this.#accepting];
    // The first drain also makes room for writes waiting for it.
    await this.#drain();
    if (accepting.length > 0) {
      // Writes not in the queue yet when flush() was called: once they are, drain again.
      await Promise.all(accepting);
      await this.#drain();
    }
  }

  // Resolves once a take finds the queue empty and the batches in flight are done.
  #drain(): Promise<void> {
    return new Promise((resolve) => {
      this.#flushing.push(resolve);
      this.#start();
    });
  }

  /**
   * Stops accepting writes ({@link WriteBehindClosedError}), lets writers waiting for room in,
   * drains the queue into the database and closes the queue. Call it on SIGTERM: nothing queued
   * is lost. If the queue or the database keeps failing, it gives up after `closeTimeout` and
   * rejects with {@link WriteBehindCloseTimeoutError}. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      const drained = (async () => {
        do await this.#drain();
        while (
          this.#waiting.length > 0 ||
          this.#admitted > 0 ||
          this.#pushing > 0 ||
          (!this.#queue.durable && this.#queue.depth > 0)
        );
        return true;
      })();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        if (this.#closeTimeout !== Number.POSITIVE_INFINITY) {
          timer = setTimeout(() => resolve(false), this.#closeTimeout);
        }
      });
      const done = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (done) {
        clearTimeout(this.#timer);
        await this.#queue.close?.();
        return;
      }
      this.#stop();
      const depth = this.#queue.depth;
      this.#pending.clear();
      if (!this.#queue.durable && depth > 0) {
        this.#stats.abandoned += depth;
        if (this.#listening.abandoned) this.#emit('abandoned', { writes: depth });
      }
      // The queue may be what fails: do not wait for it to close.
      Promise.resolve(this.#queue.close?.()).catch((error: unknown) => this.#fail(error, 'close'));
      throw new WriteBehindCloseTimeoutError(this.#closeTimeout, depth);
    })();
    return this.#closing;
  }

  // After a timed-out close(): no more takes.
  #stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** A snapshot of the counters. */
  stats(): WriteBehindStats {
    const { last, total, max, count } = this.#latency;
    return {
      ...this.#stats,
      depth: this.#queue.depth,
      flushLatency: { last, mean: count === 0 ? 0 : total / count, max },
    };
  }

  /** Subscribes to an event. */
  on<E extends keyof WriteBehindEvents<V>>(event: E, listener: WriteBehindListener<V, E>): this {
    this.#emitter.on(event, listener);
    this.#listening[event] = true;
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends keyof WriteBehindEvents<V>>(event: E, listener: WriteBehindListener<V, E>): this {
    this.#emitter.once(event, listener);
    this.#listening[event] = true;
    return this;
  }

  /** Unsubscribes a listener. */
  off<E extends keyof WriteBehindEvents<V>>(event: E, listener: WriteBehindListener<V, E>): this {
    this.#emitter.off(event, listener);
    this.#listening[event] = this.#emitter.listenerCount(event) > 0;
    return this;
  }

  // Runs the flusher now, or wakes it if it waits for a batch in flight to finish.
  #start(): void {
    if (this.#stopped) return;
    if (this.#busy) {
      this.#demand = true;
      this.#wake?.();
      return;
    }
    this.#busy = true;
    clearTimeout(this.#timer);
    void this.#run();
  }

  #arm(): void {
    if (this.#stopped || (this.#closing !== undefined && this.#flushing.length === 0)) return;
    // A failed take is tried again after a backoff when someone waits for a flush.
    const delay =
      this.#takeFailures > 0 && this.#flushing.length > 0
        ? Math.min(this.#interval, this.#backoff(this.#takeFailures))
        : this.#interval;
    this.#timer = setTimeout(() => this.#start(), delay);
    // Only in-memory writes (and callers of flush) keep the process alive: durable ones can wait.
    if ((this.#queue.durable || this.#queue.depth === 0) && this.#flushing.length === 0) {
      this.#timer.unref();
    }
  }

  async #run(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    const writing = new Set<string>();
    let taken = 0;
    let next = this.#take();
    for (;;) {
      const { batch: taking, waiters } = next;
      let batch: WriteBehindEntry<V>[];
      try {
        batch = await taking;
        this.#takeFailures = 0;
        // close() gave up: what is taken stays unacknowledged (a durable queue delivers it again).
        if (this.#stopped) break;
      } catch (error) {
        this.#takeFailures++;
        this.#fail(error, 'take');
        break;
      }
      if (batch.length === 0) {
        await Promise.all(inflight);
        // Every flush() called before this take started is satisfied: the queue was empty.
        for (const resolve of this.#flushing.splice(0, waiters)) resolve();
        if (this.#flushing.length === 0 && !this.#demand) break;
        next = this.#take();
        continue;
      }
      // One row per key: its newest write, placed where that write was (a claimed write can come
      // after a newer one). A write the queue could not decode makes no row: it is dead-lettered
      // on its own, whatever comes after it.
      const last = new Map<string, WriteBehindEntry<V>>();
      for (const entry of batch) {
        if (entry.undecodable !== undefined) continue;
        if ((last.get(entry.key)?.sequence ?? '') > entry.sequence) continue;
        last.delete(entry.key);
        last.set(entry.key, entry);
      }
      const rows = [...last.values()];
      // A key's writes stay in order: a batch waits for every batch in flight that holds one of
      // its keys (to be written and acknowledged), and for a free slot.
      while (inflight.size >= this.#concurrency || rows.some((row) => writing.has(row.key))) {
        await Promise.race(inflight);
      }
      taken += batch.length;
      // Take the next batch while this one is written.
      const more = this.#flushing.length > 0 || this.#queue.depth - taken >= this.#maxBatch;
      if (more) next = this.#take();
      for (const row of rows) writing.add(row.key);
      const flushing: Promise<void> = this.#flushBatch(batch, rows).then(() => {
        for (const row of rows) writing.delete(row.key);
        taken -= batch.length;
        inflight.delete(flushing);
      });
      inflight.add(flushing);
      if (!more) {
        // Nothing to take yet: wait for a batch to finish or for a full batch or flush() to come.
        const demand = () =>
          this.#demand || this.#flushing.length > 0 || this.#queue.depth - taken >= this.#maxBatch;
        while (!demand() && inflight.size > 0) {
          await Promise.race([...inflight, new Promise<void>((wake) => (this.#wake = wake))]);
        }
        this.#wake = undefined;
        if (!demand()) break;
        next = this.#take();
      }
    }
    // Only after a failed take are batches still in flight; otherwise nothing asked for a flush
    // since the last take, and the next run is at the interval.
    if (inflight.size > 0) await Promise.all(inflight);
    this.#busy = false;
    this.#arm();
  }

  #take(): { batch: Promise<WriteBehindEntry<V>[]>; waiters: number } {
    const waiters = this.#flushing.length;
    this.#demand = false;
    const batch = (async () => this.#queue.take(this.#maxBatch))();
    // Awaited in #run; until then a rejection must not count as unhandled.
    batch.catch(() => {});
    return { batch, waiters };
  }

  // One batch, traced on `cache:writeBehind:flush` when anyone listens.
  #flushBatch(batch: WriteBehindEntry<V>[], rows: WriteBehindEntry<V>[]): Promise<void> {
    if (!isTraced(channels.writeBehindFlush)) return this.#writeBatch(batch, rows);
    return traced(channels.writeBehindFlush, { writes: batch.length }, () =>
      this.#writeBatch(batch, rows),
    ) as Promise<void>;
  }

  async #writeBatch(batch: WriteBehindEntry<V>[], rows: WriteBehindEntry<V>[]): Promise<void> {
    const started = performance.now();
    const flushed = this.#stats.flushed;
    let undecodable = 0;
    for (const entry of batch) {
      if (entry.undecodable === undefined) continue;
      undecodable++;
      await this.#dead([entry], entry.undecodable.error);
    }
    this.#stats.coalesced += batch.length - undecodable - rows.length;
    // A write claimed from a dead consumer, older than one of its key this process committed.
    const stale = rows.filter((row) => this.#watermarks.covers(row.key, row.sequence));
    if (stale.length > 0) {
      this.#stats.superseded += stale.length;
      if (this.#listening.superseded) this.#emit('superseded', { entries: stale });
    }
    const current = stale.length === 0 ? rows : rows.filter((row) => !stale.includes(row));
    let writable = current;
    if (this.#remove === undefined && current.some((row) => row.deleted)) {
      // Deletes from a queue shared with processes that have `remove`: no retry can apply them.
      writable = current.filter((row) => !row.deleted);
      const error = new InvalidArgumentError(
        'remove',
        'the queue holds deletes and there is no remove option to apply them',
      );
      await this.#dead(
        current.filter((row) => row.deleted),
        error,
      );
    }
    if (writable.length > 0) {
      const outcome = await this.#attempt(writable, this.#retry.retries);
      if (!outcome.ok) {
        // close() gave up: the rows stay unacknowledged, not dead-lettered.
        if (this.#stopped) return;
        await this.#isolate(writable, outcome.error);
      }
    }
    // The rows are committed: acknowledge them before a batch holding one of their keys is
    // written, so that a batch delivered again never lands after a newer one.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#queue.ack(batch);
        break;
      } catch (error) {
        this.#fail(error, 'ack');
        // After a timed-out close() the writes stay pending, to be delivered again.
        if (this.#stopped) break;
        await sleep(this.#backoff(attempt));
      }
    }
    this.#pending.settle(batch);
    const duration = performance.now() - started;
    const latency = this.#latency;
    latency.last = duration;
    latency.total += duration;
    latency.count++;
    if (duration > latency.max) latency.max = duration;
    if (this.#listening.flushed) {
      const written = this.#stats.flushed - flushed;
      this.#emit('flushed', { rows: written, writes: batch.length, duration });
    }
    this.#admit();
  }

  // Calls the writer, retrying up to `retries` times with exponential backoff and jitter.
  async #attempt(rows: WriteBehindEntry<V>[], retries: number): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#commit(rows);
        for (const row of rows) this.#watermarks.record(row.key, row.sequence);
        this.#stats.batches++;
        this.#stats.flushed += rows.length;
        return OK;
      } catch (error) {
        if (attempt > retries || this.#stopped) return { ok: false, error };
        const delay = this.#backoff(attempt);
        this.#stats.retried++;
        if (this.#listening.retried) {
          this.#emit('retried', { rows: rows.length, attempt, delay, error });
        }
        await sleep(delay);
      }
    }
  }

  // The batch's writes go to the writer, then its deletes to the remover.
  async #commit(rows: WriteBehindEntry<V>[]): Promise<void> {
    if (!rows.some((row) => row.deleted)) {
      await this.#write(rows);
      return;
    }
    const writes = rows.filter((row) => !row.deleted);
    if (writes.length > 0) await this.#write(writes);
    // #flushBatch dead-letters deletes when there is no remover.
    await this.#remove!(rows.filter((row) => row.deleted).map((row) => row.key));
  }

  // Exponential backoff, each delay jittered down by up to half so that retries spread out.
  #backoff(attempt: number): number {
    const { minDelay, maxDelay } = this.#retry;
    const ceiling = Math.min(maxDelay, minDelay * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  // A batch failed every retry: halve it until the failing rows are alone, so one bad row
  // neither holds back nor takes down the rows around it.
  async #isolate(rows: WriteBehindEntry<V>[], error: unknown): Promise<void> {
    if (this.#stopped) return;
    if (rows.length === 1) {
      await this.#dead(rows, error);
      return;
    }
    const middle = rows.length >> 1;
    for (const half of [rows.slice(0, middle), rows.slice(middle)]) {
      const outcome = await this.#attempt(half, 0);
      if (!outcome.ok) await this.#isolate(half, outcome.error);
    }
  }

  async #dead(entries: WriteBehindEntry<V>[], error: unknown): Promise<void> {
    this.#stats.deadLettered += entries.length;
    if (this.#listening.deadLettered) this.#emit('deadLettered', { entries, error });
    if (this.#deadLetter === undefined) return;
    try {
      await this.#deadLetter(entries, error);
    } catch (failure) {
      this.#fail(failure, 'dead-letter');
    }
  }

  // Lets waiting writers in, in call order, while there is room.
  #admit(): void {
    while (this.#waiting.length > 0 && this.#queue.depth + this.#admitted < this.#maxQueue) {
      this.#admitted++;
      this.#waiting.shift()!();
    }
  }

  #fail(error: unknown, operation: WriteBehindOperation): void {
    this.#stats.errors++;
    if (this.#listening.error) this.#emit('error', { error, operation });
  }

  #emit<E extends keyof WriteBehindEvents<V>>(event: E, payload: WriteBehindEvents<V>[E]): void {
    try {
      this.#emitter.emit(event, payload);
    } catch {
      // A throwing listener must not break the flusher.
    }
  }
}

function count(value: number, argument: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(argument, `expected an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError(
      'key',
      typeof key === 'string'
        ? 'expected a non-empty string'
        : `expected a string, got ${typeof key}`,
    );
  }
}
