import { StoreError } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { type RedisStore, redisStore } from '@cache/redis';
import { hasRedis } from '@cache-tooling/redis-server';
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { describe, expect, test, vi } from 'vitest';
import { toKeyv } from '../src/index.js';
import { redisOfFile } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = redisOfFile();

  function redisTier(prefix: string): RedisStore {
    return redis.closeAfterTest(redisStore({ port: redis.server().port, prefix }));
  }

  describe('toKeyv', () => {
    test('a Keyv TTL becomes the entry expiry; no TTL means the entry never expires', async () => {
      const store = memoryStore();
      const keyv = new Keyv({ store: toKeyv(store) });
      const before = Date.now();
      await keyv.set('short', 'a', 60_000);
      const after = Date.now();
      await keyv.set('forever', 'b');
      const short = await store.get('keyv:short');
      expect(short?.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
      expect(short?.expiresAt).toBeLessThanOrEqual(after + 60_000);
      expect((await store.get('keyv:forever'))?.expiresAt).toBe(Number.POSITIVE_INFINITY);
    });

    test('keys written through Keyv live in Redis with a PX expiry from the Keyv TTL', async () => {
      const keyv = new Keyv({ store: toKeyv(redisTier('app:')), namespace: 'users' });
      await keyv.set('1', { name: 'Ada' }, 60_000);
      await keyv.set('2', { name: 'Grace' });
      const pttl = await redis.raw().pttl('app:users:1');
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
      expect(await redis.raw().pttl('app:users:2')).toBe(-1);
      expect(await keyv.get('1')).toEqual({ name: 'Ada' });
    });

    test('clear() on a namespaced Keyv leaves other namespaces and other keys of the store', async () => {
      const store = redisTier('app:');
      const users = new Keyv({ store: toKeyv(store), namespace: 'users' });
      const posts = new Keyv({ store: toKeyv(store), namespace: 'posts' });
      await users.set('1', 'Ada');
      await posts.set('1', 'Hello');
      await store.set('usersettings', { value: 'kept', expiresAt: Date.now() + 60_000 });
      await users.clear();
      expect(await users.get('1')).toBeUndefined();
      expect(await posts.get('1')).toBe('Hello');
      expect((await store.get('usersettings'))?.value).toBe('kept');
    });

    test('with Keyv serialization off, the store encodes values: Date, Map and BigInt round-trip', async () => {
      const keyv = new Keyv({
        store: toKeyv(redisTier('app:')),
        serialize: undefined,
        deserialize: undefined,
      });
      const value = { at: new Date('2026-01-02T03:04:05Z'), seen: new Map([['a', 1n]]) };
      await keyv.set('rich', value, 60_000);
      const back = await keyv.get<typeof value>('rich');
      expect(back).toEqual(value);
      expect(back?.at).toBeInstanceOf(Date);
    });

    test('getMany, setMany and deleteMany of Keyv reach a multilevel store as batches', async () => {
      const l1 = memoryStore();
      const store = multilevel({ tiers: [l1, redisTier('app:')] });
      const keyv = new Keyv({ store: toKeyv(store) });
      await keyv.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: 60_000 },
      ]);
      expect(await redis.raw().exists('app:keyv:a', 'app:keyv:b')).toBe(2);
      const getMany = vi.spyOn(store, 'getMany');
      expect(await keyv.get(['a', 'missing', 'b'])).toEqual([1, undefined, 2]);
      expect(getMany).toHaveBeenCalledTimes(1);
      expect(await keyv.delete(['a', 'missing'])).toBe(true);
      expect(await keyv.delete(['a', 'missing'])).toBe(false);
      expect(l1.get('keyv:a')).toBeUndefined();
      expect(await redis.raw().exists('app:keyv:a')).toBe(0);
    });

    test('Keyv disconnect() closes the store, unless closeOnDisconnect is false', async () => {
      const closed = redisTier('app:');
      const kept = redisTier('app:');
      await new Keyv({ store: toKeyv(closed) }).disconnect();
      await new Keyv({ store: toKeyv(kept, { closeOnDisconnect: false }) }).disconnect();
      await expect(closed.get('k')).rejects.toBeInstanceOf(StoreError);
      await expect(closed.get('k')).rejects.toMatchObject({ code: 'E_STORE_CLOSED' });
      expect(await kept.get('k')).toBeUndefined();
    });

    test('a store failure surfaces as a Keyv error event, and rejects with throwOnErrors', async () => {
      const store = redisTier('app:');
      await store.close();
      const keyv = new Keyv({ store: toKeyv(store) });
      const errors: unknown[] = [];
      keyv.on('error', (error) => errors.push(error));
      expect(await keyv.set('k', 'v')).toBe(false);
      expect(errors).toEqual([expect.any(StoreError)]);
      keyv.throwOnErrors = true;
      await expect(keyv.set('k', 'v')).rejects.toBeInstanceOf(StoreError);
    });
  });

  describe('cache-manager v7 over toKeyv', () => {
    test('wrap() loads once and stores the value in memory and in Redis', async () => {
      const stores = [
        new Keyv({ store: toKeyv(memoryStore()) }),
        new Keyv({ store: toKeyv(redisTier('cm:')) }),
      ];
      const cache = createCache({ stores, ttl: 60_000 });
      const loader = vi.fn(async () => ({ id: 1, name: 'Ada' }));
      expect(await cache.wrap('user:1', loader)).toEqual({ id: 1, name: 'Ada' });
      expect(await cache.wrap('user:1', loader)).toEqual({ id: 1, name: 'Ada' });
      expect(loader).toHaveBeenCalledTimes(1);

      // Another process: a fresh cache-manager with only the Redis tier sees the value.
      const other = createCache({ stores: [new Keyv({ store: toKeyv(redisTier('cm:')) })] });
      expect(await other.get('user:1')).toEqual({ id: 1, name: 'Ada' });
    });

    test('set, get, mget, ttl, del and clear work as cache-manager documents them', async () => {
      const cache = createCache({ stores: [new Keyv({ store: toKeyv(redisTier('cm:')) })] });
      const before = Date.now();
      await cache.set('a', 'A', 10_000);
      await cache.mset([{ key: 'b', value: { n: 2 } }]);
      expect(await cache.get('a')).toBe('A');
      expect(await cache.mget(['a', 'b', 'c'])).toEqual(['A', { n: 2 }, undefined]);
      expect(await cache.ttl('a')).toBeGreaterThanOrEqual(before + 10_000);
      expect(await cache.del('a')).toBe(true);
      expect(await cache.get('a')).toBeUndefined();
      await cache.clear();
      expect(await cache.get('b')).toBeUndefined();
    });
  });
});
