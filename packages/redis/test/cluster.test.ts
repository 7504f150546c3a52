import type { CacheEntry } from '@cache/core';
import { hasRedis, type RedisCluster, startRedisCluster } from '@cache-tooling/redis-server';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { type BusMessage, type RedisStore, redisBus, redisLock, redisStore } from '../src/index.js';
import { keySlot } from '../src/slot.js';
import { entry, storeContract } from './contract.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let store: RedisStore;

  const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes);
    store = redisStore({ client, prefix: 'c:' });
  });
  beforeEach(async () => {
    await store.clear();
  });
  afterAll(async () => {
    await store?.close();
    client?.disconnect();
    await cluster?.stop();
  });

  /** MGET commands run so far, summed over the masters. */
  async function mgetCalls(): Promise<number> {
    let calls = 0;
    for (const node of client.nodes('master')) {
      const info = await node.info('commandstats');
      calls += Number(/cmdstat_mget:calls=(\d+)/.exec(info)?.[1] ?? 0);
    }
    return calls;
  }

  storeContract('a 3-master Cluster', () => store);

  describe('redisStore on a 3-master Cluster', () => {
    test('slots are computed as Redis computes them', async () => {
      for (const key of ['user:1', 'c:{tag}a', 'clé 🔑', '{}x', 'a{}b{c}']) {
        expect(keySlot(key)).toBe(await client.cluster('KEYSLOT', key));
      }
    });

    test('concurrent gets over many slots never fail with CROSSSLOT', async () => {
      await store.setMany(keys.map((key, i) => [key, entry(i)]));
      const values = await Promise.all([...keys, 'missing'].map((key) => store.get(key)));
      expect(values.map((found) => found?.value)).toEqual([...keys.map((_, i) => i), undefined]);
    });

    test('getMany and deleteMany span every master', async () => {
      await store.setMany(keys.map((key, i) => [key, entry(i)]));
      expect((await store.getMany(keys)).map((found) => found?.value)).toEqual(
        keys.map((_, i) => i),
      );
      expect(await store.deleteMany([...keys.slice(0, 100), 'missing'])).toBe(100);
      expect((await store.getMany(keys.slice(0, 101))).filter(Boolean)).toHaveLength(1);
    });

    test('the gets of one tick go out as one MGET per slot: keys with one hash tag share one', async () => {
      const tagged = Array.from({ length: 50 }, (_, i) => `{user:1}:field${i}`);
      await store.setMany(tagged.map((key, i) => [key, entry(i)]));
      const before = await mgetCalls();
      const values = await Promise.all(tagged.map((key) => store.get(key)));
      expect(await mgetCalls()).toBe(before + 1);
      expect(values.map((found) => found?.value)).toEqual(tagged.map((_, i) => i));
    });

    test('clear(prefix) removes matching keys on every master and keeps the rest', async () => {
      await store.setMany([
        ...keys.map((key, i): [string, CacheEntry] => [key, entry(i)]),
        ['post:1', entry('kept')],
        ['user*:1', entry('glob')],
      ]);
      await store.clear('user*');
      expect((await store.get('user*:1'))?.value).toBeUndefined();
      expect((await store.get('user:1'))?.value).toBe(1);
      await store.clear('user:');
      expect((await store.getMany(keys)).filter(Boolean)).toEqual([]);
      expect((await store.get('post:1'))?.value).toBe('kept');
      await store.clear();
      expect(await store.get('post:1')).toBeUndefined();
    });
  });

  test('clear() on a Cluster client that has not connected yet still reaches every master', async () => {
    const fresh = new Cluster(cluster.nodes, { lazyConnect: true });
    const late = redisStore({ client: fresh, prefix: 'c:' });
    try {
      await store.set('late', entry(1));
      await late.clear();
      expect(await store.get('late')).toBeUndefined();
    } finally {
      await late.close();
      fresh.disconnect();
    }
  });

  test('the bus and the lock work on a Cluster', async () => {
    const a = redisBus({ client, channel: 'c:bus' });
    const b = redisBus({ client: new Cluster(cluster.nodes), channel: 'c:bus' });
    try {
      const received = new Promise<BusMessage>((resolve) => {
        void b.subscribe(resolve);
      });
      await b.subscribe(() => {});
      await a.publish({ type: 'delete', keys: ['x'] });
      expect(await received).toMatchObject({ type: 'delete', keys: ['x'], origin: a.instanceId });

      const lock = redisLock({ client });
      const held = await lock.acquire('x', { ttl: 10_000, timeout: 0 });
      expect(await lock.acquire('x', { ttl: 10_000, timeout: 0 })).toBeUndefined();
      await held!.release();
      expect(await lock.acquire('x', { ttl: 10_000, timeout: 0 })).toBeDefined();
    } finally {
      await a.close();
      await b.close();
      b.client.disconnect();
    }
  });
});
