import { once } from 'node:events';
import { expect } from 'vitest';
import type { BusMessage, RedisBus } from '../src/index.js';
import type { TestRedis } from './redis.js';

/**
 * Kills and restarts the test's redis-server while `subscriber` is subscribed, then checks that
 * it emitted `reconnect` and receives what `publisher` publishes next. Closes both buses.
 */
export async function expectResubscribedAfterRestart(
  redis: TestRedis,
  publisher: RedisBus,
  subscriber: RedisBus,
): Promise<void> {
  try {
    await subscriber.subscribe(() => {});
    const reconnected = new Promise<void>((resolve) => subscriber.on('reconnect', resolve));
    await redis.server.kill();
    await redis.server.restart();
    await reconnected;
    const received = new Promise<BusMessage>((resolve) => {
      const pending = subscriber.subscribe((message) => {
        void pending.then((off) => off());
        resolve(message);
      });
    });
    if (publisher.client.status !== 'ready') await once(publisher.client, 'ready');
    await publisher.publish({ type: 'delete', keys: ['k'] });
    expect(await received).toMatchObject({ type: 'delete', keys: ['k'] });
    expect(subscriber.stats().reconnects).toBe(1);
  } finally {
    await publisher.close();
    await subscriber.close();
  }
}
