import { type CacheStore, createCache, SerializationError, StoreError } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { redisStore } from '@cache/redis';
import { storeTestSuite } from '@cache/test-suite';
import { hasRedis } from '@cache-tooling/redis-server';
import KeyvRedis, { createKeyv } from '@keyv/redis';
import Keyv from 'keyv';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fromKeyv, toKeyv } from '../src/index.js';
import { redisOfFile } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = redisOfFile();
  const server = () => redis.server();
  const runner = { describe, test, expect, beforeEach, afterEach };

  storeTestSuite({
    ...runner,
    name: 'fromKeyv(new Keyv())',
    createStore: () => fromKeyv(new Keyv()),
    capabilities: { expire: false, mergeTagRecords: false },
  });
  storeTestSuite({
    ...runner,
    name: 'fromKeyv(new KeyvRedis(url))',
    createStore: () => fromKeyv(new KeyvRedis(server().url)),
    capabilities: { expire: false, mergeTagRecords: false },
  });
  storeTestSuite({
    ...runner,
    name: "fromKeyv(createKeyv(url, { namespace: 'cache' }))",
    createStore: () => fromKeyv(createKeyv(server().url, { namespace: 'cache' })),
    capabilities: { expire: false, mergeTagRecords: false },
  });

  describe('fromKeyv', () => {
    const minute = 60_000;

    function keyvRedisStore(namespace?: string): CacheStore {
      return redis.closeAfterTest(fromKeyv(createKeyv(server().url, { namespace })));
    }

    test('the Keyv TTL runs to staleUntil, or to expiresAt without one; Infinity sets none', async () => {
      const store = keyvRedisStore();
      const now = Date.now();
      await store.set('graced', { value: 1, expiresAt: now + 10_000, staleUntil: now + minute });
      await store.set('plain', { value: 2, expiresAt: now + 10_000 });
      await store.set('forever', { value: 3, expiresAt: Number.POSITIVE_INFINITY });
      const graced = await redis.raw().pttl('graced');
      expect(graced).toBeGreaterThan(10_000);
      expect(graced).toBeLessThanOrEqual(minute);
      expect(await redis.raw().pttl('plain')).toBeLessThanOrEqual(10_000);
      expect(await redis.raw().pttl('forever')).toBe(-1);
      expect((await store.get('forever'))?.expiresAt).toBe(Number.POSITIVE_INFINITY);
    });

    test('a Keyv adapter under memory in multilevel: getOrSet loads once, another instance reads it back', async () => {
      const cache = createCache({
        store: multilevel({ tiers: [memoryStore(), keyvRedisStore('app')] }),
        ttl: '1m',
      });
      const loader = vi.fn(async () => ({ id: 1, joined: new Date('2026-01-02T03:04:05Z') }));
      const [a, b] = await Promise.all([
        cache.getOrSet('user:1', loader),
        cache.getOrSet('user:1', loader),
      ]);
      expect(a).toEqual(b);
      expect(loader).toHaveBeenCalledTimes(1);

      const other = createCache({
        store: multilevel({ tiers: [memoryStore(), keyvRedisStore('app')] }),
      });
      const back = await other.get<{ joined: Date }>('user:1');
      expect(back?.joined).toEqual(new Date('2026-01-02T03:04:05Z'));
      expect(await redis.raw().exists('app::user:1')).toBe(1);
    });

    test('Keyv namespaces keep stores apart: clear() of one leaves the other', async () => {
      const users = keyvRedisStore('users');
      const posts = keyvRedisStore('posts');
      const entry = { value: 'v', expiresAt: Date.now() + minute };
      await users.set('1', entry);
      await posts.set('1', { ...entry, value: 'p' });
      await users.clear();
      expect(await users.get('1')).toBeUndefined();
      expect((await posts.get('1'))?.value).toBe('p');
    });

    test('deletePattern removes the keys matching the glob and counts them', async () => {
      const store = fromKeyv(new Keyv({ namespace: 'app' }));
      const entry = { value: 1, expiresAt: Date.now() + minute };
      await store.setMany([
        ['user:1', entry],
        ['user:2', entry],
        ['post:1', entry],
      ]);
      expect(await store.deletePattern('user:*')).toBe(2);
      expect(await store.getMany(['user:1', 'user:2', 'post:1'])).toEqual([
        undefined,
        undefined,
        entry,
      ]);
    });

    test('clear(prefix) over a Keyv store that cannot list its keys rejects with E_UNSUPPORTED', async () => {
      const store = fromKeyv(toKeyv(memoryStore()));
      await store.set('user:1', { value: 1, expiresAt: Date.now() + minute });
      await expect(store.clear('user:')).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
      await store.clear();
      expect(await store.get('user:1')).toBeUndefined();
    });

    test('a failing Keyv backend rejects writes, and reads too when fromKeyv built the Keyv', async () => {
      const dead = redisStore({ port: server().port });
      await dead.close();
      const ownKeyv = fromKeyv(new Keyv({ store: toKeyv(dead) }));
      const adapter = fromKeyv(toKeyv(dead));
      const entry = { value: 1, expiresAt: Date.now() + minute };
      await expect(ownKeyv.set('k', entry)).rejects.toBeInstanceOf(StoreError);
      expect(await ownKeyv.get('k')).toBeUndefined(); // that Keyv has throwOnErrors off
      await expect(adapter.set('k', entry)).rejects.toBeInstanceOf(StoreError);
      await expect(adapter.get('k')).rejects.toBeInstanceOf(StoreError);
    });

    test('keys that start with the Keyv namespace stay apart from the same keys without it', async () => {
      const store = fromKeyv(new Keyv({ namespace: 'app' }));
      const entry = (value: string) => ({ value, expiresAt: Date.now() + minute });
      await store.set('x', entry('plain'));
      await store.set('app:x', entry('prefixed'));
      await store.setMany([['app:y', entry('batched')]]);
      expect((await store.get('x'))?.value).toBe('plain');
      expect((await store.getMany(['app:x', 'x', 'app:y'])).map((found) => found?.value)).toEqual([
        'prefixed',
        'plain',
        'batched',
      ]);
      await store.clear('app:');
      expect((await store.get('x'))?.value).toBe('plain');
      expect(await store.getMany(['app:x', 'app:y'])).toEqual([undefined, undefined]);
      expect(await store.delete('x')).toBe(true);
    });

    test('a value another Keyv user wrote under the key is a SerializationError, not an entry', async () => {
      const keyv = new Keyv();
      await keyv.set('foreign', { name: 'not an entry' });
      await expect(fromKeyv(keyv).get('foreign')).rejects.toBeInstanceOf(SerializationError);
    });
  });
});
