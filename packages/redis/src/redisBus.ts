import { randomUUID } from 'node:crypto';
import type { InvalidationBus, InvalidationMessage } from '@cache/core';
import { InvalidArgumentError, StoreError } from '@cache/core';
import { type RedisClient, RedisConnection, type RedisConnectionOptions } from './connection.js';
import { Emitter } from './emitter.js';
import { openSubscriber, type Subscriber } from './subscriber.js';

const MESSAGE_TYPES = new Set<string>([
  'delete',
  'clear',
  'pattern',
  'tags',
] satisfies InvalidationMessage['type'][]);

/** An {@link InvalidationMessage} as it travels on the channel: with its sender's id. */
export interface BusMessage extends InvalidationMessage {
  /** The id of the bus instance that published it; a bus ignores its own messages. */
  origin: string;
}

/** The events of a {@link RedisBus}. */
export interface RedisBusEvents {
  /**
   * The subscriber connection came back after a disconnection: messages sent meanwhile are
   * lost, so a consumer should distrust (clear) its local tier.
   */
  reconnect: () => void;
  /** A message could not be published, or a received one was not a valid {@link BusMessage}. */
  error: (error: Error) => void;
}

/** Options of {@link redisBus}. */
export interface RedisBusOptions extends RedisConnectionOptions {
  /**
   * The pub/sub channel; instances that share it invalidate each other.
   * @default 'cache:invalidate'
   */
  channel?: string;
  /**
   * This instance's id, sent as `origin` so it can ignore its own messages.
   * @default a random UUID
   */
  instanceId?: string;
}

/** Counters of a {@link RedisBus}. */
export interface RedisBusStats {
  /** Messages published. */
  published: number;
  /** Messages that could not be published. */
  publishFailures: number;
  /** Messages received from other instances and passed to the handlers. */
  received: number;
  /** Received messages that were not valid and were dropped. */
  invalid: number;
  /** Times the subscriber reconnected. */
  reconnects: number;
}

/**
 * Pub/sub invalidation messages between processes (used by `@cache/multilevel`), on a channel
 * of Redis. Publishing uses the given or created client; receiving uses a dedicated subscriber
 * connection (`client.duplicate()`) that resubscribes after a reconnection and then emits
 * `'reconnect'`. Create one with {@link redisBus}.
 */
export class RedisBus implements InvalidationBus {
  /** The channel. */
  readonly channel: string;
  /** This instance's id, the `origin` of the messages it publishes. */
  readonly instanceId: string;
  readonly #connection: RedisConnection;
  readonly #events = new Emitter<RedisBusEvents>();
  readonly #handlers = new Set<(message: BusMessage) => void>();
  readonly #stats: RedisBusStats = {
    published: 0,
    publishFailures: 0,
    received: 0,
    invalid: 0,
    reconnects: 0,
  };
  readonly #timeout: number;
  #subscriber: Subscriber | undefined;
  #subscribed: Promise<void> | undefined;
  #closed = false;

  /** Prefer {@link redisBus}. */
  constructor(options: RedisBusOptions = {}) {
    const { channel, instanceId, ...connectionOptions } = options;
    this.channel = channel ?? 'cache:invalidate';
    this.instanceId = instanceId ?? randomUUID();
    if (typeof this.channel !== 'string' || this.channel === '') {
      throw new InvalidArgumentError('channel', 'expected a non-empty string');
    }
    this.#timeout = connectionOptions.timeout ?? 1000;
    this.#connection = new RedisConnection(connectionOptions, { checkMemoryPolicy: false });
  }

  /** The client that publishes (given or created); the subscriber is a duplicate of it. */
  get client(): RedisClient {
    return this.#connection.client;
  }

  /**
   * Publishes `message` to the other instances (`origin` is filled in). Rejects with a
   * `StoreError` when Redis fails; the failure is also counted and emitted as `'error'`.
   */
  async publish(message: InvalidationMessage): Promise<void> {
    const text = JSON.stringify({ ...message, origin: this.instanceId });
    try {
      await this.#connection.run((client) => client.publish(this.channel, text));
      this.#stats.published++;
    } catch (error) {
      this.#stats.publishFailures++;
      this.#events.emit('error', error as Error);
      throw error;
    }
  }

  /**
   * Calls `handler` with every message other instances publish. Resolves, once the subscriber
   * connection has subscribed, to a function that removes the handler.
   */
  async subscribe(handler: (message: BusMessage) => void): Promise<() => void> {
    if (this.#closed) {
      throw new StoreError('redis', 'the bus is closed', { code: 'E_STORE_CLOSED' });
    }
    this.#handlers.add(handler);
    const unsubscribe = () => {
      this.#handlers.delete(handler);
    };
    try {
      this.#subscribed ??= this.#startSubscriber();
      await this.#subscribed;
    } catch (error) {
      unsubscribe();
      this.#subscribed = undefined;
      throw error;
    }
    return unsubscribe;
  }

  async #startSubscriber(): Promise<void> {
    const subscriber = openSubscriber(
      this.#connection.client,
      (channel, text) => {
        if (channel === this.channel) this.#receive(text);
      },
      () => {
        this.#stats.reconnects++;
        this.#events.emit('reconnect', undefined);
      },
    );
    this.#subscriber = subscriber;
    try {
      await subscriber.subscribe(this.channel, this.#timeout);
    } catch (error) {
      subscriber.close();
      this.#subscriber = undefined;
      throw error;
    }
  }

  #receive(text: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
      if (!message || !MESSAGE_TYPES.has(message.type)) throw new Error(text);
    } catch {
      this.#stats.invalid++;
      this.#events.emit('error', new Error(`[cache] [redis] invalid bus message: ${text}`));
      return;
    }
    if (message.origin === this.instanceId) return;
    this.#stats.received++;
    for (const handler of this.#handlers) handler(message);
  }

  /** Listens to `'reconnect'` or `'error'`; returns a function that removes the listener. */
  on<E extends keyof RedisBusEvents>(event: E, listener: RedisBusEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** The counters. */
  stats(): RedisBusStats {
    return { ...this.#stats };
  }

  /** Closes the subscriber connection, and the publishing client if the bus created it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
    this.#subscriber?.close();
    this.#subscriber = undefined;
    await this.#connection.close();
  }
}

/**
 * Creates a {@link RedisBus}. Pass the store's `client` to publish on its connection; the bus
 * always opens one more connection to subscribe.
 *
 * @example
 * ```ts
 * const bus = redisBus({ client: store.client, channel: 'app:invalidate' });
 * await bus.subscribe((message) => l1.deleteMany(message.keys ?? []));
 * await bus.publish({ type: 'delete', keys: ['user:1'] });
 * ```
 */
export function redisBus(options: RedisBusOptions = {}): RedisBus {
  return new RedisBus(options);
}
