// Tags, versions, patterns and loads in flight on a Redis store, with two caches that share it
// as two processes would (each with its own connection).
import { once } from 'node:events';
import { type Cache, createCache } from '@cache/core';
import { deferred } from '@cache/test-suite';
import { forkFixture } from '@cache-tooling/config/processes';
import { hasRedis } from '@cache-tooling/redis-server';
import { describe, expect, test, vi } from 'vitest';
import { redisStore } from '../src/index.js';
import { useCachePairs, useClosing, useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();
  const pair = useCachePairs(redis, 'inv');
  const opened = useClosing();
  let run = 0;

  /** Two caches on one Redis (a fresh prefix per test), as two instances of an app. */
  function twoCaches(): [Cache, Cache] {
    return pair().caches;
  }

  describe('tags on Redis', () => {
    test('invalidateTags in one instance voids the tagged entries for the other, and only those', async () => {
      const [a, b] = twoCaches();
      await a.set('product:1', 'lamp', { tags: ['catalog', 'product:1'] });
      await a.set('product:2', 'desk', { tags: ['catalog'] });
      await a.set('cart:9', 'lamp x1', { tags: ['cart'] });
      expect(await b.get('product:1')).toBe('lamp');
      expect(await a.invalidateTags(['catalog'])).toBe(true);
      expect(await b.getMany(['product:1', 'product:2', 'cart:9'])).toEqual([
        undefined,
        undefined,
        'lamp x1',
      ]);
    });

    test('a value reloaded after its tag was invalidated is served again from Redis', async () => {
      const [a, b] = twoCaches();
      let version = 0;
      const load = vi.fn(async () => `catalog v${++version}`);
      expect(await a.getOrSet('catalog', load, { tags: ['catalog'] })).toBe('catalog v1');
      // A miss answers before its value is stored; without a bus between them, b's invalidation
      // reaches a only through Redis, so let the value land first.
      await a.flush();
      await b.invalidateTags(['catalog']);
      expect(await a.getOrSet('catalog', load, { tags: ['catalog'] })).toBe('catalog v2');
      // createdAt travels with the entry: the reload is newer than the invalidation.
      expect(await b.getOrSet('catalog', load, { tags: ['catalog'] })).toBe('catalog v2');
      expect(await a.get('catalog')).toBe('catalog v2');
      expect(load).toHaveBeenCalledTimes(2);
    });

    test('thousands of tags: invalidating 2,000 of 5,000 per-key tags voids exactly those keys', async () => {
      const [a, b] = twoCaches();
      const keys = Array.from({ length: 5_000 }, (_, i) => `k${i}`);
      await a.setMany(keys.map((key, i) => [key, i, { tags: [`t${i}`, 'all'] }]));
      await b.invalidateTags(Array.from({ length: 2_000 }, (_, i) => `t${i * 2}`));
      const values = await a.getMany(keys);
      const kept = values.filter((value) => value !== undefined) as number[];
      expect(kept).toHaveLength(3_000);
      expect(kept.every((value) => value % 2 === 1 || value >= 4_000)).toBe(true);
    });

    test('a tag invalidated by another instance while a load runs keeps the loaded value out', async () => {
      const [a, b] = twoCaches();
      const gate = deferred<string>();
      const pending = a.getOrSet('report', () => gate.promise, { tags: ['reports'] });
      await vi.waitFor(() => expect(a.stats().inflight).toBe(1));
      await b.invalidateTags(['reports']);
      gate.resolve('computed before the invalidation');
      expect(await pending).toBe('computed before the invalidation');
      expect(await a.get('report')).toBeUndefined();
      expect(await b.get('report')).toBeUndefined();
    });

    test('the same holds when the loading process’s clock runs 10 s ahead: Redis stamps the order', async () => {
      const {
        caches: [, b],
        prefix,
      } = pair();
      await b.set('warm', 1, { tags: ['reports'] });
      await b.invalidateTags(['reports']); // a record exists, as in any running app
      const child = forkFixture(new URL('./fixtures/skewedLoader.ts', import.meta.url), [
        String(redis.server.port),
        prefix,
        '10000',
      ]);
      try {
        const [loading] = await once(child, 'message');
        expect(loading).toBe('loading');
        await b.invalidateTags(['reports']);
        const answered = once(child, 'message');
        child.send('release');
        expect((await answered)[0]).toBe('computed before the invalidation');
        expect(await b.get('report')).toBeUndefined();
      } finally {
        child.kill();
      }
      // A load after the invalidation is kept, whatever the clocks.
      expect(await b.getOrSet('report', async () => 'fresh', { tags: ['reports'] })).toBe('fresh');
      await b.flush();
      expect(await b.get('report')).toBe('fresh');
    });
  });

  describe('versions on Redis', () => {
    test('the seed VersionedCache: a read asking for version N never gets another version', async () => {
      const [a, b] = twoCaches();
      await a.set('user:123', { name: 'Ada' }, { version: 1 });
      expect(await b.get('user:123', { version: 1 })).toEqual({ name: 'Ada' });
      expect(await b.get('user:123', { version: 2 })).toBeUndefined();
      await b.set('user:123', { name: 'Ada L.' }, { version: 2 });
      expect(await a.get('user:123', { version: 1 })).toBeUndefined();
      expect(await a.get('user:123', { version: 2 })).toEqual({ name: 'Ada L.' });
    });

    test('getOrSet with a version reloads when the stored entry has another one', async () => {
      const [a, b] = twoCaches();
      await a.getOrSet('schema', async () => 'shape v1', { version: 'v1' });
      expect(await b.getOrSet('schema', async () => 'shape v2', { version: 'v2' })).toBe(
        'shape v2',
      );
      expect(await a.get('schema', { version: 'v2' })).toBe('shape v2');
    });

    test('invalidate() of a versioned namespace voids it for the other instance in O(1)', async () => {
      const [a, b] = twoCaches();
      const catalogA = a.namespace('catalog', { versioned: true });
      const catalogB = b.namespace('catalog', { versioned: true });
      await catalogA.setMany(Array.from({ length: 100 }, (_, i) => [String(i), i]));
      await a.set('cart', 'kept');
      expect(await catalogB.get('42')).toBe(42);
      const keysBefore = await redis.raw.dbsize();
      expect(await catalogA.invalidate()).toBe(true);
      // One version record (the store's stamp exists since the cache started), no key touched.
      expect(await redis.raw.dbsize()).toBe(keysBefore + 1);
      expect(await catalogB.getMany(['0', '42', '99'])).toEqual([undefined, undefined, undefined]);
      expect(await b.get('cart')).toBe('kept');
      await catalogB.set('0', 'again');
      expect(await catalogA.get('0')).toBe('again');
    });
  });

  describe('deletePattern on Redis', () => {
    test("the seed's *:{user_id}:* deletes every key of that user, nothing else", async () => {
      const [a, b] = twoCaches();
      const keys = [
        'user:123:profile',
        'orders:123:page:1',
        'user:1234:profile',
        'user:123',
        'feed:9:123',
      ];
      for (const key of keys) await a.set(key, key);
      expect(await b.deletePattern('*:123:*')).toBe(2);
      expect(await a.getMany(keys)).toEqual([
        undefined,
        undefined,
        'user:1234:profile',
        'user:123',
        'feed:9:123',
      ]);
    });

    test('stays inside its namespace and its store prefix, glob characters and all', async () => {
      const prefix = `inv*[${run++}]:`;
      const cache = createCache({ store: redisStore({ port: redis.server.port, prefix }) });
      const other = createCache({
        store: redisStore({ port: redis.server.port, prefix: 'invx:' }),
      });
      opened.push(cache, other);
      await cache.namespace('a?').set('x:1', 1);
      await cache.namespace('ab').set('x:1', 1);
      await other.set('a?:x:1', 1);
      expect(await cache.namespace('a?').deletePattern('x:*')).toBe(1);
      expect(await cache.namespace('ab').get('x:1')).toBe(1);
      expect(await other.get('a?:x:1')).toBe(1);
    });

    test('a deletePattern while a load of a matching key runs keeps the loaded value out', async () => {
      const [a] = twoCaches();
      const gate = deferred<string>();
      const pending = a.getOrSet('user:7:feed', () => gate.promise);
      await vi.waitFor(() => expect(a.stats().inflight).toBe(1));
      await a.deletePattern('*:7:*');
      gate.resolve('feed before the delete');
      await pending;
      expect(await a.get('user:7:feed')).toBeUndefined();
    });

    test('deletes 20,000 keys in SCAN batches and returns the count', async () => {
      const [a] = twoCaches();
      await a.setMany(Array.from({ length: 20_000 }, (_, i) => [`bulk:${i}:x`, i]));
      await a.set('bulk:keep', 1);
      expect(await a.deletePattern('bulk:*:x')).toBe(20_000);
      expect(await a.get('bulk:keep')).toBe(1);
    });
  });
});
