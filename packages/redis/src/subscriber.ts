import { StoreError } from '@cache/core';
import { isCluster, messageOf, type RedisClient } from './connection.js';

/** A dedicated pub/sub connection that subscribes again by itself after a reconnection. */
export interface Subscriber {
  /** The connection, a duplicate of the client it was opened from. */
  readonly client: RedisClient;
  /** Subscribes to `channel`; rejects with a `StoreError` (`E_STORE_UNAVAILABLE`) after `timeout` ms. */
  subscribe(channel: string, timeout: number): Promise<void>;
  /** Unsubscribes from `channel`; a failure is ignored (the connection is then gone anyway). */
  unsubscribe(channel: string): void;
  /** Closes the connection at once; nothing it had pending rejects unhandled. */
  close(): void;
}

const ignore = () => {};

/**
 * Opens a dedicated pub/sub connection, a duplicate of `client`. `onMessage` gets every message;
 * `onResubscribed` runs each time the connection came back and has subscribed again.
 */
export function openSubscriber(
  client: RedisClient,
  onMessage: (channel: string, text: string) => void,
  onResubscribed: () => void,
): Subscriber {
  const cluster = isCluster(client);
  // A subscription may wait in ioredis' offline queue: subscribe() bounds the wait. On a single
  // node, ioredis' own resubscription leaves its SUBSCRIBE without a handler, so closing the
  // connection while it is in flight rejected it unhandled: this subscriber sends its own.
  const subscriber = cluster
    ? client.duplicate(undefined, { enableOfflineQueue: true })
    : client.duplicate({ enableOfflineQueue: true, autoResubscribe: false });
  const channels = new Set<string>();
  subscriber.on('error', ignore);
  subscriber.on('message', onMessage);
  let connected = false;
  subscriber.on('ready', () => {
    if (!connected) {
      connected = true;
      return;
    }
    // On a Cluster ioredis has just sent the resubscription: a PING answered after it proves it
    // is done. On a single node the SUBSCRIBE's own answer does.
    if (cluster || channels.size === 0) subscriber.ping().then(onResubscribed, ignore);
    else subscriber.subscribe(...channels).then(onResubscribed, ignore);
  });
  return {
    client: subscriber,
    async subscribe(channel, timeout) {
      // Known before it is sent, so that a reconnection meanwhile subscribes to it too.
      channels.add(channel);
      try {
        await within(subscriber.subscribe(channel), timeout);
      } catch (error) {
        channels.delete(channel);
        throw new StoreError('redis', `cannot subscribe to "${channel}": ${messageOf(error)}`, {
          cause: error,
          code: 'E_STORE_UNAVAILABLE',
        });
      }
    },
    unsubscribe(channel) {
      channels.delete(channel);
      subscriber.unsubscribe(channel).catch(ignore);
    },
    close() {
      channels.clear();
      subscriber.disconnect();
    },
  };
}

// Settles as `pending` does, or rejects after `timeout` ms (`pending` keeps a handler).
async function within<T>(pending: Promise<T>, timeout: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
