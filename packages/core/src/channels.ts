import {
  type Channel,
  channel,
  type TracingChannel,
  tracingChannel,
} from 'node:diagnostics_channel';
import { coarseNow } from './clock.js';
import type { StaleReason } from './events.js';
import type { CacheEntry, InvalidationMessage, MaybePromise } from './types.js';

/** What a lookup found: `cache:operation` messages. */
export interface OperationMessage {
  /** `'getOrSet'` or `'get'` (also `getMany`, per key). */
  operation: 'getOrSet' | 'get';
  /** The full key (with its namespace prefix). */
  key: string;
  /** The name of the cache's store. */
  store: string;
  /** A fresh value, nothing fresh, or a stale value served under grace. */
  outcome: 'hit' | 'miss' | 'stale';
  /** Why a stale value was served (only with `outcome: 'stale'`). */
  reason?: StaleReason;
}

/** The context of a traced call: what the publisher fills in, then `result` or `error`. */
export interface TracedMessage {
  /** What the call returned, once it completed. */
  result?: unknown;
  /** What the call threw or rejected with, when it failed. */
  error?: unknown;
  /** True when the call completed synchronously (an in-process store, say): nothing to time. */
  synchronous?: boolean;
}

/** `cache:getOrSet` and `cache:load`: one `getOrSet` call, one loader call. */
export interface KeyMessage extends TracedMessage {
  /** The full key (with its namespace prefix). */
  key: string;
  /** The name of the cache's store. */
  store: string;
}

/** `cache:store`: one call of a store. */
export interface StoreCallMessage extends TracedMessage {
  /** The store's `name` (`'memory'`, `'redis'`, …). */
  store: string;
  /** The tier's index in a multilevel store (0 is the fastest); 0 for a cache over one store. */
  tier: number;
  /** `get`, `getMany`, `set`, `setMany`, `delete`, `deleteMany`, `clear`, `deletePattern`, `backfill`, … */
  operation: string;
  /** The key, for calls of one key. */
  key?: string;
  /** For reads: whether the tier had a fresh entry (`'hit'`), or not (`'miss'`). */
  outcome?: 'hit' | 'miss';
}

/** `cache:bus:publish` and `cache:bus:receive`: an invalidation sent to or received from other processes. */
export interface BusChannelMessage extends TracedMessage {
  /** The message. */
  message: InvalidationMessage;
  /** On receipt: ms from publishing to receiving, when the sender stamped the message. */
  lag?: number;
}

/** `cache:lock:acquire` and `cache:lock:renew`: a distributed lock taken or renewed. */
export interface LockMessage extends TracedMessage {
  /** The key the lock is for. */
  key: string;
}

/** `cache:breaker`: a circuit breaker changed state. */
export interface BreakerMessage {
  /** The store whose breaker it is (`'redis'`, or the cache's store for its own breaker). */
  store: string;
  /** The new state. */
  state: 'closed' | 'open' | 'half-open';
}

/** `cache:evict`: an in-process store dropped entries to make room. */
export interface EvictMessage {
  /** The store's name. */
  store: string;
  /** How many entries were dropped. */
  count: number;
}

/** `cache:writeBehind:flush`: one batch written to the database (retries included). */
export interface FlushMessage extends TracedMessage {
  /** Queued writes in the batch. */
  writes: number;
}

/**
 * The `node:diagnostics_channel` channels @cache publishes to. Nothing is built for a channel
 * nobody subscribes to. Traced calls (`TracingChannel`s) publish `start` and `end` when called
 * and, once they complete (also when they complete synchronously), `asyncStart` and `asyncEnd`;
 * `error` first when they fail. A traced call is published only while `start` or `asyncEnd` has
 * a subscriber. Subscribe by name from anywhere (`diagnostics_channel.subscribe('cache:operation', …)`,
 * `diagnostics_channel.tracingChannel('cache:load').subscribe(…)`) or through these objects;
 * `@cache/otel` turns them into OpenTelemetry metrics and spans.
 */
export const channels: {
  /** What each lookup found: {@link OperationMessage}. */
  readonly operation: Channel;
  /** Each `getOrSet` call: {@link KeyMessage}. */
  readonly getOrSet: TracingChannel<object, KeyMessage>;
  /** Each loader call: {@link KeyMessage}. */
  readonly load: TracingChannel<object, KeyMessage>;
  /** Each store call, with its tier: {@link StoreCallMessage}. */
  readonly store: TracingChannel<object, StoreCallMessage>;
  /** Invalidations published to other processes: {@link BusChannelMessage}. */
  readonly busPublish: TracingChannel<object, BusChannelMessage>;
  /** Invalidations received from other processes: {@link BusChannelMessage}. */
  readonly busReceive: Channel;
  /** Locks taken: {@link LockMessage}; `result` is the handle, `undefined` when the wait timed out. */
  readonly lockAcquire: TracingChannel<object, LockMessage>;
  /** Leases renewed: {@link LockMessage}; `result` is whether the lock is still held. */
  readonly lockRenew: TracingChannel<object, LockMessage>;
  /** Circuit breakers changing state: {@link BreakerMessage}. */
  readonly breaker: Channel;
  /** Entries evicted for room: {@link EvictMessage}. */
  readonly evict: Channel;
  /** Write-behind batches: {@link FlushMessage}. */
  readonly writeBehindFlush: TracingChannel<object, FlushMessage>;
} = {
  operation: channel('cache:operation'),
  getOrSet: tracingChannel('cache:getOrSet'),
  load: tracingChannel('cache:load'),
  store: tracingChannel('cache:store'),
  busPublish: tracingChannel('cache:bus:publish'),
  busReceive: channel('cache:bus:receive'),
  lockAcquire: tracingChannel('cache:lock:acquire'),
  lockRenew: tracingChannel('cache:lock:renew'),
  breaker: channel('cache:breaker'),
  evict: channel('cache:evict'),
  writeBehindFlush: tracingChannel('cache:writeBehind:flush'),
};

/**
 * Whether anyone subscribes to `traced`'s `start` or `asyncEnd` (check it before building a
 * message). A subscriber of the other events alone (`end`, `asyncStart`, `error`) must
 * subscribe to one of those two as well: the hot path reads two flags, not five.
 */
export function isTraced(traced: TracingChannel<object, object>): boolean {
  return traced.start.hasSubscribers || traced.asyncEnd.hasSubscribers;
}

/**
 * Runs `run` as a traced call of `message` on `traced` (see {@link channels}); returns what it
 * returns, synchronously when it does. Call it only when {@link isTraced}.
 */
export function traced<T, M extends TracedMessage>(
  traced: TracingChannel<object, M>,
  message: M,
  run: () => MaybePromise<T>,
): MaybePromise<T> {
  traced.start.publish(message);
  let result: MaybePromise<T>;
  try {
    result = run();
  } catch (error) {
    traced.end.publish(message);
    message.synchronous = true;
    settle(traced, message, true, error);
    throw error;
  }
  traced.end.publish(message);
  if (!(result instanceof Promise)) {
    message.synchronous = true;
    settle(traced, message, false, result);
    return result;
  }
  return result.then(
    (value) => {
      settle(traced, message, false, value);
      return value;
    },
    (error: unknown) => {
      settle(traced, message, true, error);
      throw error;
    },
  );
}

// Publishes the end of a traced call: `error` first when it failed, then asyncStart and asyncEnd.
function settle<M extends TracedMessage>(
  traced: TracingChannel<object, M>,
  message: M,
  failed: boolean,
  outcome: unknown,
): void {
  if (failed) {
    message.error = outcome;
    traced.error.publish(message);
  } else message.result = outcome;
  traced.asyncStart.publish(message);
  traced.asyncEnd.publish(message);
}

/**
 * Runs `run`, a call of `store` (tier `tier`), as a traced call on `cache:store` when anyone
 * listens; a `get` is published with its outcome (`'hit'` for a fresh entry).
 */
export function traceStoreCall<T>(
  store: string,
  tier: number,
  operation: string,
  key: string | undefined,
  run: () => MaybePromise<T>,
): MaybePromise<T> {
  if (!isTraced(channels.store)) return run();
  const message: StoreCallMessage = { store, tier, operation };
  if (key !== undefined) message.key = key;
  if (operation !== 'get') return traced(channels.store, message, run);
  return traced(channels.store, message, () => {
    const found = run();
    if (!(found instanceof Promise)) {
      message.outcome = outcomeOf(found);
      return found;
    }
    return found.then((entry) => {
      message.outcome = outcomeOf(entry);
      return entry;
    });
  });
}

function outcomeOf(entry: unknown): 'hit' | 'miss' {
  const found = entry as CacheEntry | undefined;
  return found != null && found.expiresAt > coarseNow() ? 'hit' : 'miss';
}

/** Publishes a lookup's outcome on `cache:operation` when anyone listens. */
export function publishOutcome(
  operation: OperationMessage['operation'],
  key: string,
  store: string,
  outcome: OperationMessage['outcome'],
  reason?: StaleReason,
): void {
  if (!channels.operation.hasSubscribers) return;
  const message: OperationMessage = { operation, key, store, outcome };
  if (reason !== undefined) message.reason = reason;
  channels.operation.publish(message);
}
