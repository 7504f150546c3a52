import { randomUUID } from 'node:crypto';
import type { InvalidationBus, InvalidationMessage } from '@cache/core';
import { InvalidArgumentError, StoreError } from '@cache/core';
import { type RedisClient, RedisConnection, type RedisConnectionOptions } from './connection.js';
import { Emitter } from './emitter.js';
import { InvalidationLog, isAfter, type LogCursor } from './invalidationLog.js';
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
  /** When it was published (ms epoch, the sender's clock): receivers measure the bus lag with it. */
  sentAt?: number;
  /** Its id in the log, on the channel (removed before handlers see the message). */
  logId?: string;
}

/** Tries to read the log after a reconnection, and the wait between two (ms). */
const READ_ATTEMPTS = 10;
const READ_RETRY_DELAY = 200;

const isStrings = (value: unknown) =>
  value === undefined || (Array.isArray(value) && value.every((v) => typeof v === 'string'));

// A message as sent: a known type, and string arrays where there are arrays.
function isMessage(message: BusMessage): boolean {
  return (
    typeof message === 'object' &&
    message !== null &&
    MESSAGE_TYPES.has(message.type) &&
    isStrings(message.keys) &&
    isStrings(message.tags)
  );
}

/** The events of a {@link RedisBus}. */
export interface RedisBusEvents {
  /**
   * The subscriber connection came back after a disconnection and what was sent meanwhile cannot
   * be known (the log was trimmed past it, lost with Redis, or is off): a consumer should
   * distrust (clear) its local tier.
   */
  reconnect: () => void;
  /**
   * The subscriber connection came back after a disconnection and the messages sent meanwhile
   * were read from the log and passed to the handlers (`replayed` of them): nothing was missed.
   */
  resume: (replayed: number) => void;
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
  /**
   * The Redis Stream that logs every message beside the channel, so that a subscriber that was
   * disconnected replays what it missed; `false` to publish on the channel only (a reconnection
   * then always means distrust).
   * @default `${channel}:log`
   */
  log?: string | false;
  /**
   * About how many messages the log keeps (`XADD MAXLEN ~`): a subscriber away for longer than
   * that many messages distrusts instead of replaying.
   * @default 10000
   */
  logLength?: number;
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
  /** Messages read from the log after a reconnection and passed to the handlers. */
  replayed: number;
  /** Reconnections after which the log could not tell what was missed (`'reconnect'` emitted). */
  gaps: number;
}

/**
 * Invalidation messages between processes (used by `@cache/multilevel`): published on a pub/sub
 * channel of Redis and logged in a Redis Stream, in one script. Publishing uses the given or
 * created client; receiving uses a dedicated subscriber connection (`client.duplicate()`) that
 * resubscribes after a reconnection, reads the messages it missed from the log (from the id of
 * the last one it saw) and emits `'resume'`, or, when the log no longer reaches back that far,
 * emits `'reconnect'`. Create one with {@link redisBus}.
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
    replayed: 0,
    gaps: 0,
  };
  readonly #timeout: number;
  readonly #log: InvalidationLog | undefined;
  // The newest logged message seen, and the server that logged it.
  #cursor: LogCursor | undefined;
  // The cursor when the subscriber connection dropped: the reconnection replays from there (live
  // messages received once it is back move the cursor past what it missed).
  #replayFrom: LogCursor | undefined;
  #dropped = false;
  // Reconnections are handled one after the other.
  #resuming: Promise<void> = Promise.resolve();
  #subscriber: Subscriber | undefined;
  #subscribed: Promise<void> | undefined;
  #closed = false;

  /** Prefer {@link redisBus}. */
  constructor(options: RedisBusOptions = {}) {
    const { channel, instanceId, log, logLength, ...connectionOptions } = options;
    this.channel = channel ?? 'cache:invalidate';
    this.instanceId = instanceId ?? randomUUID();
    if (typeof this.channel !== 'string' || this.channel === '') {
      throw new InvalidArgumentError('channel', 'expected a non-empty string');
    }
    if (log !== undefined && log !== false && (typeof log !== 'string' || log === '')) {
      throw new InvalidArgumentError('log', 'expected a non-empty string or false');
    }
    const length = logLength ?? 10_000;
    if (!Number.isSafeInteger(length) || length < 1) {
      throw new InvalidArgumentError('logLength', 'expected a positive integer');
    }
    if (log !== false) this.#log = new InvalidationLog(log ?? `${this.channel}:log`, length);
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
    const text = JSON.stringify({ ...message, origin: this.instanceId, sentAt: Date.now() });
    try {
      const log = this.#log;
      await this.#connection.run((client) =>
        log === undefined
          ? client.publish(this.channel, text)
          : log.append(client, this.channel, text),
      );
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
        if (channel === this.channel) this.#receive('', text);
      },
      () => {
        this.#stats.reconnects++;
        this.#resuming = this.#resuming
          .then(() => this.#resume())
          .catch((error: unknown) => {
            // Whatever failed, what was missed is unknown: distrust.
            this.#events.emit('error', error as Error);
            this.#gap();
          });
      },
    );
    subscriber.client.on('close', () => {
      if (this.#dropped) return;
      this.#dropped = true;
      this.#replayFrom = this.#cursor;
    });
    this.#subscriber = subscriber;
    try {
      await subscriber.subscribe(this.channel, this.#timeout);
    } catch (error) {
      subscriber.close();
      this.#subscriber = undefined;
      throw error;
    }
    await this.#readCursor();
  }

  // Subscribed (again): where the log stands. Unknown when Redis fails to say, so that the next
  // reconnection distrusts.
  async #readCursor(): Promise<void> {
    const log = this.#log;
    if (log === undefined) return;
    try {
      const last = await this.#connection.run((client) => log.last(client));
      this.#advance(last.id, last.server);
    } catch (error) {
      this.#cursor = undefined;
      this.#events.emit('error', error as Error);
    }
  }

  // Back after a disconnection: replays the messages logged meanwhile, or says they are lost.
  async #resume(): Promise<void> {
    const log = this.#log;
    const cursor = this.#dropped ? this.#replayFrom : this.#cursor;
    this.#dropped = false;
    this.#replayFrom = undefined;
    let missed: { id: string; text: string }[] | undefined;
    // The publishing connection may be coming back too: a few tries before giving up.
    for (let attempt = 1; log !== undefined && cursor !== undefined && !this.#closed; attempt++) {
      try {
        missed = await this.#connection.run((client) => log.since(client, cursor));
        break;
      } catch (error) {
        if (attempt === READ_ATTEMPTS) {
          this.#events.emit('error', error as Error);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, READ_RETRY_DELAY));
      }
    }
    if (this.#closed) return;
    if (missed === undefined) {
      this.#gap();
      await this.#readCursor();
      return;
    }
    let replayed = 0;
    for (const { id, text } of missed) {
      if (this.#receive(id, text)) replayed++;
    }
    this.#stats.replayed += replayed;
    this.#events.emit('resume', replayed);
  }

  #gap(): void {
    this.#stats.gaps++;
    this.#cursor = undefined;
    this.#events.emit('reconnect', undefined);
  }

  // Moves the cursor to `id` if it is newer. A cursor whose server is unknown ('') never
  // matches one: the next reconnection distrusts. A reading of the log (with its server) that
  // comes back after a live message heard meanwhile on the subscriber connection names the
  // server, but keeps the newer id: going back to the reading's would replay that message.
  #advance(id: string, server?: string): void {
    const cursor = this.#cursor;
    if (cursor === undefined) this.#cursor = { id, server: server ?? '' };
    else if (server !== undefined && cursor.server === '') {
      this.#cursor = { id: isAfter(id, cursor.id) ? id : cursor.id, server };
    } else if (server !== undefined && server !== cursor.server) this.#cursor = { id, server };
    else if (isAfter(id, cursor.id)) this.#cursor = { id, server: cursor.server };
  }

  // Passes a message on to the handlers; returns whether it did. `id` is its log id, if logged.
  #receive(id: string, text: string): boolean {
    if (id !== '') this.#advance(id);
    // A mark left in an empty log, not a message.
    if (text === '') return false;
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
      if (!isMessage(message)) throw new Error(text);
    } catch {
      this.#stats.invalid++;
      this.#events.emit('error', new Error(`[cache] [redis] invalid bus message: ${text}`));
      return false;
    }
    if (message.logId !== undefined) {
      if (id === '') this.#advance(message.logId);
      delete message.logId;
    }
    if (message.origin === this.instanceId) return false;
    this.#stats.received++;
    for (const handler of this.#handlers) {
      try {
        handler(message);
      } catch (error) {
        // A faulty handler must not stop the others, nor a replay.
        this.#events.emit('error', error as Error);
      }
    }
    return true;
  }

  /** Listens to `'reconnect'`, `'resume'` or `'error'`; returns a function that removes the listener. */
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
