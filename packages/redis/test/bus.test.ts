import { hasRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { type BusMessage, type RedisBus, redisBus } from '../src/index.js';
import { expectResubscribedAfterRestart } from './busRestart.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();

  function nextMessage(bus: RedisBus): Promise<BusMessage> {
    return new Promise((resolve) => {
      const pending = bus.subscribe((message) => {
        void pending.then((off) => off());
        resolve(message);
      });
    });
  }

  describe('redisBus', () => {
    test('a message published by one instance reaches the others, not itself', async () => {
      const a = redisBus({ port: redis.server.port, channel: 'inv' });
      const b = redisBus({ port: redis.server.port, channel: 'inv' });
      try {
        const ownMessages: BusMessage[] = [];
        await a.subscribe((message) => ownMessages.push(message));
        const received: BusMessage[] = [];
        const twoReceived = new Promise<void>((resolve) => {
          void b.subscribe((message) => {
            received.push(message);
            if (received.length === 2) resolve();
          });
        });
        // Wait until b's subscriber is in place: its subscribe() resolves once subscribed.
        await b.subscribe(() => {});
        await a.publish({ type: 'delete', keys: ['user:1', 'user:2'] });
        await a.publish({ type: 'tags', tags: ['users'] });
        await twoReceived;
        expect(received).toEqual([
          { type: 'delete', keys: ['user:1', 'user:2'], origin: a.instanceId },
          { type: 'tags', tags: ['users'], origin: a.instanceId },
        ]);
        // b's messages are published after a's, so a has had every chance to see its own.
        const back = nextMessage(a);
        await b.publish({ type: 'clear', prefix: 'users:' });
        expect(await back).toEqual({ type: 'clear', prefix: 'users:', origin: b.instanceId });
        expect(ownMessages.filter((message) => message.origin === a.instanceId)).toEqual([]);
        expect(a.stats()).toMatchObject({ published: 2, received: 1 });
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a pattern message reaches the other instances as sent', async () => {
      const a = redisBus({ port: redis.server.port, channel: 'inv5' });
      const b = redisBus({ port: redis.server.port, channel: 'inv5' });
      try {
        await b.subscribe(() => {});
        const received = nextMessage(b);
        await a.publish({ type: 'pattern', pattern: '*:123:*' });
        expect(await received).toEqual({
          type: 'pattern',
          pattern: '*:123:*',
          origin: a.instanceId,
        });
        expect(b.stats().invalid).toBe(0);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a closed bus refuses new subscriptions', async () => {
      const bus = redisBus({ port: redis.server.port, channel: 'inv4' });
      await bus.close();
      await expect(bus.subscribe(() => {})).rejects.toMatchObject({ code: 'E_STORE_CLOSED' });
    });

    test('an invalid message is counted and reported, not passed on', async () => {
      const bus = redisBus({ port: redis.server.port, channel: 'inv2' });
      const raw = new Redis(redis.server.port);
      try {
        await bus.subscribe(() => {
          throw new Error('must not be called');
        });
        const reported = new Promise<Error>((resolve) => bus.on('error', resolve));
        await raw.publish('inv2', 'not json');
        expect((await reported).message).toContain('invalid bus message');
        expect(bus.stats().invalid).toBe(1);
      } finally {
        raw.disconnect();
        await bus.close();
      }
    });

    test('after Redis restarts, the subscriber resubscribes and emits reconnect', async () => {
      await expectResubscribedAfterRestart(
        redis,
        redisBus({ port: redis.server.port, channel: 'inv3' }),
        redisBus({ port: redis.server.port, channel: 'inv3' }),
      );
    });
  });
});
