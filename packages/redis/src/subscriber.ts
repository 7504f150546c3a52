import { StoreError } from '@cache/core';
import { isCluster, messageOf, type RedisClient } from './connection.js';

/**
 * Opens a dedicated pub/sub connection, a duplicate of `client`. `onMessage` gets every message;
 * `onResubscribed` runs each time the connection came back and ioredis has subscribed again.
 */
export function openSubscriber(
  client: RedisClient,
  onMessage: (channel: string, text: string) => void,
  onResubscribed: () => void,
): RedisClient {
  // A subscription may wait in ioredis' offline queue: subscribeWithin bounds the wait.
  const subscriber = isCluster(client)
    ? client.duplicate(undefined, { enableOfflineQueue: true })
    : client.duplicate({ enableOfflineQueue: true });
  subscriber.on('error', () => {
    // The subscriber reconnects by itself; onResubscribed tells when it is back.
  });
  subscriber.on('message', onMessage);
  let connected = false;
  subscriber.on('ready', () => {
    if (!connected) {
      connected = true;
      return;
    }
    // ioredis has just sent the resubscription; a PING answered after it proves it is done.
    subscriber.ping().then(onResubscribed, () => {});
  });
  return subscriber;
}

/** Subscribes to `channel`; rejects with a `StoreError` (`E_STORE_UNAVAILABLE`) after `timeout` ms. */
export async function subscribeWithin(
  subscriber: RedisClient,
  channel: string,
  timeout: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      subscriber.subscribe(channel),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeout);
      }),
    ]);
  } catch (error) {
    throw new StoreError('redis', `cannot subscribe to "${channel}": ${messageOf(error)}`, {
      cause: error,
      code: 'E_STORE_UNAVAILABLE',
    });
  } finally {
    clearTimeout(timer);
  }
}
