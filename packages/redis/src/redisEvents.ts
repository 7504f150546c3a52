import type { EventSource } from '@cache/core';
import { InvalidArgumentError, StoreError } from '@cache/core';
import { type RedisClient, RedisConnection, type RedisConnectionOptions } from './connection.js';
import { Emitter } from './emitter.js';
import { openSubscriber, type Subscriber } from './subscriber.js';

/** Options of {@link redisEvents}. */
export interface RedisEventsOptions extends RedisConnectionOptions {
  /**
   * Put before each event name to make its channel: `'user.updated'` travels on
   * `'events:user.updated'`. Producers and consumers must agree on it.
   * @default 'events:'
   */
  channelPrefix?: string;
}

/** The events of a {@link RedisEventSource}. */
export interface RedisEventSourceEvents {
  /**
   * A received payload was not JSON, a listener threw, or a channel could not be subscribed
   * again. The source keeps going.
   */
  error: (error: Error) => void;
  /** The subscriber connection came back after a disconnection: events sent meanwhile are lost. */
  reconnect: () => void;
}

/** Counters of a {@link RedisEventSource}. */
export interface RedisEventSourceStats {
  /** Events published. */
  published: number;
  /** Events received and passed to listeners. */
  received: number;
  /** Received payloads that were not JSON and were dropped. */
  invalid: number;
  /** Listener calls that threw. */
  listenerErrors: number;
}

/**
 * Application events over Redis pub/sub, one channel per event name with JSON payloads: an
 * {@link EventSource} for `cache.invalidateOn(...)` in every process, and
 * {@link RedisEventSource.publish} for the producers. Receiving uses a dedicated subscriber
 * connection (`client.duplicate()`), which ioredis subscribes again after a reconnection.
 * A bad payload or a throwing listener is an `'error'` event, never a crash. Create one with
 * {@link redisEvents}.
 */
export class RedisEventSource implements EventSource {
  /** The prefix that makes an event name a channel. */
  readonly channelPrefix: string;
  readonly #connection: RedisConnection;
  readonly #timeout: number;
  readonly #events = new Emitter<RedisEventSourceEvents>();
  // Per channel: its listeners, and the SUBSCRIBE that every subscribe() to it waits for.
  readonly #channels = new Map<
    string,
    { listeners: Set<(payload: any) => void>; subscribed: Promise<void> }
  >();
  readonly #stats: RedisEventSourceStats = {
    published: 0,
    received: 0,
    invalid: 0,
    listenerErrors: 0,
  };
  #subscriber: Subscriber | undefined;
  #closed = false;

  /** Prefer {@link redisEvents}. */
  constructor(options: RedisEventsOptions = {}) {
    const { channelPrefix, ...connectionOptions } = options;
    this.channelPrefix = channelPrefix ?? 'events:';
    if (typeof this.channelPrefix !== 'string') {
      throw new InvalidArgumentError('channelPrefix', 'expected a string');
    }
    this.#timeout = connectionOptions.timeout ?? 1000;
    this.#connection = new RedisConnection(connectionOptions, { checkMemoryPolicy: false });
  }

  /** The client that publishes (given or created); the subscriber is a duplicate of it. */
  get client(): RedisClient {
    return this.#connection.client;
  }

  /**
   * Calls `listener` with the decoded payload of every `event` published by any process.
   * Resolves, once Redis confirmed the subscription, to a function that stops it. Rejects with a
   * `StoreError` when Redis cannot be reached within the timeout.
   */
  async subscribe(event: string, listener: (payload: any) => void): Promise<() => void> {
    if (typeof event !== 'string' || event === '') {
      throw new InvalidArgumentError('event', 'expected a non-empty string');
    }
    if (this.#closed) {
      throw new StoreError('redis', 'the event source is closed', { code: 'E_STORE_CLOSED' });
    }
    const channel = this.channelPrefix + event;
    let subscription = this.#channels.get(channel);
    if (subscription === undefined) {
      subscription = { listeners: new Set(), subscribed: this.#subscribeChannel(channel) };
      this.#channels.set(channel, subscription);
    }
    const { listeners, subscribed } = subscription;
    listeners.add(listener);
    const stop = () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      if (this.#channels.get(channel) !== subscription) return;
      this.#channels.delete(channel);
      this.#subscriber?.unsubscribe(channel);
    };
    try {
      await subscribed;
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  /**
   * Publishes `payload` (encoded with `JSON.stringify`; `undefined` travels as `null`) to the
   * listeners of `event` in every process. Resolves how many subscriber connections received it;
   * rejects with a `StoreError` when Redis fails.
   */
  async publish(event: string, payload: unknown): Promise<number> {
    if (typeof event !== 'string' || event === '') {
      throw new InvalidArgumentError('event', 'expected a non-empty string');
    }
    const text = JSON.stringify(payload ?? null);
    const receivers = await this.#connection.run((client) =>
      client.publish(this.channelPrefix + event, text),
    );
    this.#stats.published++;
    return receivers;
  }

  /** Listens to `'error'` or `'reconnect'`; returns a function that removes the listener. */
  on<E extends keyof RedisEventSourceEvents>(
    event: E,
    listener: RedisEventSourceEvents[E],
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** The counters. */
  stats(): RedisEventSourceStats {
    return { ...this.#stats };
  }

  /** Closes the subscriber connection, and the publishing client if this source created it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    this.#subscriber?.close();
    this.#subscriber = undefined;
    await this.#connection.close();
  }

  #subscribeChannel(channel: string): Promise<void> {
    this.#subscriber ??= openSubscriber(
      this.#connection.client,
      (from, text) => this.#receive(from, text),
      () => this.#events.emit('reconnect', undefined),
    );
    return this.#subscriber.subscribe(channel, this.#timeout);
  }

  #receive(channel: string, text: string): void {
    const listeners = this.#channels.get(channel)?.listeners;
    if (listeners === undefined) return;
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      this.#stats.invalid++;
      this.#events.emit(
        'error',
        new Error(`[cache] [redis] invalid JSON payload on "${channel}": ${text.slice(0, 200)}`),
      );
      return;
    }
    this.#stats.received++;
    for (const listener of listeners) {
      try {
        listener(payload);
      } catch (error) {
        this.#stats.listenerErrors++;
        this.#events.emit('error', error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}

/**
 * Creates a {@link RedisEventSource}: pass an existing ioredis `client` (it is duplicated for
 * the subscriber connection), or ioredis options / a `url`.
 *
 * @example
 * ```ts
 * const events = redisEvents({ client: store.client });
 * await cache.invalidateOn(events, {
 *   'user.updated': (e) => [`user:${e.userId}`, `user_profile:${e.userId}`],
 *   'user.deleted': (e) => ({ patterns: [`*:${e.userId}:*`] }),
 * });
 * // in any process:
 * await events.publish('user.updated', { userId: 123 });
 * ```
 */
export function redisEvents(options: RedisEventsOptions = {}): RedisEventSource {
  return new RedisEventSource(options);
}
