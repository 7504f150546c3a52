import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import { collectErrors, hasRedis, unexpectedErrors } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { openSubscriber } from '../src/subscriber.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();

  test('subscribes again after Redis restarts, then says so', async () => {
    const client = new Redis({ port: redis.server.port });
    const errors = collectErrors(client);
    const received: string[] = [];
    let resubscribed!: () => void;
    const back = new Promise<void>((resolve) => {
      resubscribed = resolve;
    });
    const subscriber = openSubscriber(client, (_, text) => received.push(text), resubscribed);
    try {
      await subscriber.subscribe('events', 1000);
      await redis.server.kill();
      await redis.server.restart();
      await back;
      await client.publish('events', 'after the restart');
      await expect.poll(() => received).toEqual(['after the restart']);
      expect(unexpectedErrors(errors)).toEqual([]);
    } finally {
      subscriber.close();
      client.disconnect();
    }
  });

  test('closed while it subscribes again after a reconnection, it rejects nothing unhandled', async () => {
    const proxy = await holdingProxy(redis.server.port);
    const unhandled: unknown[] = [];
    const collect = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', collect);
    const client = new Redis({ port: proxy.port });
    const errors = collectErrors(client);
    const subscriber = openSubscriber(
      client,
      () => {},
      () => {},
    );
    try {
      await subscriber.subscribe('events', 1000);
      // The connection drops; on the next one, the resubscription gets no answer before the close.
      const resubscribing = proxy.holdAfterSubscribe();
      proxy.drop();
      await resubscribing;
      const ended = once(subscriber.client, 'end');
      subscriber.close();
      await ended;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect(unexpectedErrors(errors)).toEqual([]);
    } finally {
      process.off('unhandledRejection', collect);
      subscriber.close();
      client.disconnect();
      proxy.close();
    }
  });

  /**
   * A TCP proxy to Redis that can drop its connections, and then withhold every answer on a new
   * connection once the client has sent SUBSCRIBE on it, closing it when the client ends it.
   */
  async function holdingProxy(target: number) {
    const sockets = new Set<Socket>();
    let subscribed: (() => void) | undefined;
    const proxy = createServer((client) => {
      const upstream = createConnection({ port: target, host: '127.0.0.1' });
      const watching = subscribed;
      let holding = false;
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => {});
        socket.once('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (data) => {
        upstream.write(data);
        if (watching && !holding && /subscribe/i.test(data.toString())) {
          holding = true;
          watching();
        }
      });
      upstream.on('data', (data) => {
        if (!holding) client.write(data);
      });
      client.on('end', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    return {
      port: (proxy.address() as AddressInfo).port,
      holdAfterSubscribe: () =>
        new Promise<void>((resolve) => {
          subscribed = resolve;
        }),
      drop() {
        for (const socket of sockets) socket.destroy();
      },
      close() {
        this.drop();
        proxy.close();
      },
    };
  }
});
