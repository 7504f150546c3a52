import { once } from 'node:events';
import { type Cache, type CacheEvents, createCache } from '@cache/core';
import { hasRedis } from '@cache-tooling/redis-server';
import { afterEach, describe, expect, test } from 'vitest';
import { type RedisEventSource, type RedisStore, redisEvents, redisStore } from '../src/index.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((thing) => thing.close()));
  });

  function events(channelPrefix?: string): RedisEventSource {
    const source = redisEvents({ port: redis.server.port, channelPrefix });
    opened.push(source);
    return source;
  }

  function cacheOnRedis(): Cache {
    const store: RedisStore = redisStore({ port: redis.server.port, prefix: 'events:' });
    const cache = createCache({ store, ttl: '1h' });
    opened.push(cache);
    return cache;
  }

  function next<E extends keyof CacheEvents>(cache: Cache, event: E): Promise<CacheEvents[E]> {
    return new Promise((resolve) => cache.once(event, resolve));
  }

  describe('redisEvents', () => {
    test('the seed EventDrivenCache: user.updated published by a producer deletes the user and profile keys', async () => {
      const cache = cacheOnRedis();
      await cache.clear();
      await cache.setMany([
        ['user:123', 'Ada'],
        ['user_profile:123', 'profile of Ada'],
        ['user:124', 'Bob'],
      ]);
      await cache.invalidateOn(events(), {
        'user.updated': (event: { user_id: number }) => [
          `user:${event.user_id}`,
          `user_profile:${event.user_id}`,
        ],
      });
      const producer = events();
      const deleted = next(cache, 'delete');
      expect(await producer.publish('user.updated', { user_id: 123 })).toBe(1);
      await deleted;
      expect(await cache.getMany(['user:123', 'user_profile:123', 'user:124'])).toEqual([
        undefined,
        undefined,
        'Bob',
      ]);
    });

    test('the seed EventDrivenCache: user.deleted deletes every key matching *:{user_id}:*', async () => {
      const cache = cacheOnRedis();
      await cache.clear();
      const keys = ['user:123:profile', 'orders:123:recent', 'user:1234:profile', 'user:123'];
      for (const key of keys) await cache.set(key, key);
      await cache.invalidateOn(events(), {
        'user.deleted': (event: { user_id: number }) => ({ patterns: [`*:${event.user_id}:*`] }),
      });
      const invalidated = next(cache, 'invalidate');
      await events().publish('user.deleted', { user_id: 123 });
      expect(await invalidated).toMatchObject({ pattern: '*:123:*' });
      expect(await cache.getMany(keys)).toEqual([
        undefined,
        undefined,
        'user:1234:profile',
        'user:123',
      ]);
    });

    test('a handler returning tags invalidates them', async () => {
      const cache = cacheOnRedis();
      await cache.set('product:1', 'lamp', { tags: ['catalog'] });
      await cache.invalidateOn(events(), { 'catalog.imported': () => ({ tags: ['catalog'] }) });
      const invalidated = next(cache, 'invalidate');
      await events().publish('catalog.imported', {});
      expect(await invalidated).toMatchObject({ tags: ['catalog'] });
      expect(await cache.get('product:1')).toBeUndefined();
    });

    test('a payload that is not JSON is an error event and counted; later events still arrive', async () => {
      const source = events();
      const received: unknown[] = [];
      await source.subscribe('ping', (payload) => received.push(payload));
      const reported = new Promise<Error>((resolve) => source.on('error', resolve));
      await redis.raw.publish('events:ping', '{oops');
      expect((await reported).message).toContain('invalid JSON payload on "events:ping"');
      const arrived = new Promise<void>((resolve) => source.subscribe('ping', () => resolve()));
      await events().publish('ping', { n: 1 });
      await arrived;
      expect(received).toEqual([{ n: 1 }]);
      expect(source.stats()).toMatchObject({ invalid: 1, received: 1 });
    });

    test('a listener that throws is an error event; the other listeners still run', async () => {
      const source = events();
      await source.subscribe('ping', () => {
        throw new Error('listener bug');
      });
      const ran = new Promise((resolve) => source.subscribe('ping', resolve));
      const reported = new Promise<Error>((resolve) => source.on('error', resolve));
      await events().publish('ping', 'x');
      expect(await ran).toBe('x');
      expect((await reported).message).toBe('listener bug');
      expect(source.stats().listenerErrors).toBe(1);
    });

    test('a handler that throws is an error event of the cache, not a crash', async () => {
      const cache = cacheOnRedis();
      await cache.invalidateOn(events(), {
        'user.updated': () => {
          throw new Error('handler bug');
        },
      });
      const failed = next(cache, 'error');
      await events().publish('user.updated', { user_id: 1 });
      expect(await failed).toMatchObject({ operation: 'invalidate', key: 'user.updated' });
    });

    test('channels are the prefix plus the event name; a stopped listener gets nothing more', async () => {
      const source = events('app:');
      const got: unknown[] = [];
      let saw!: () => void;
      const seen = () =>
        new Promise<void>((resolve) => {
          saw = resolve;
        });
      let aSeen = seen();
      const stop = await source.subscribe('a', (payload) => {
        got.push(payload);
        saw();
      });
      const producer = events('app:');
      expect(await redis.raw.publish('app:a', '1')).toBe(1);
      await aSeen;
      stop();
      await producer.publish('a', 2);
      // Messages of one subscriber connection arrive in order: b's comes after a's second one.
      aSeen = seen();
      await source.subscribe('b', () => saw());
      await producer.publish('b', 0);
      await aSeen;
      expect(got).toEqual([1]);
    });

    test('after Redis restarts, the source subscribes again and emits reconnect', async () => {
      const source = events();
      const producer = events();
      const received = new Promise((resolve) => source.subscribe('after', resolve));
      await source.subscribe('after', () => {});
      const reconnected = new Promise<void>((resolve) => source.on('reconnect', resolve));
      await redis.server.kill();
      await redis.server.restart();
      await reconnected;
      if (producer.client.status !== 'ready') await once(producer.client, 'ready');
      await producer.publish('after', { back: true });
      expect(await received).toEqual({ back: true });
    });
  });
});
