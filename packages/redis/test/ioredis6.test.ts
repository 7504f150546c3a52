import type { InvalidationMessage } from '@cache/core';
import { storeTestSuite } from '@cache/test-suite';
import {
  collectErrors,
  hasRedis,
  type RedisCluster,
  startRedisCluster,
  unexpectedErrors,
} from '@cache-tooling/redis-server';
import { Cluster, Redis } from 'ioredis-6';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  type BusMessage,
  type RedisClient,
  type RedisStore,
  redisBus,
  redisLock,
  redisStore,
} from '../src/index.js';
import { expectResubscribedAfterRestart } from './busRestart.js';
import { entry, storeContract } from './contract.js';
import { useRedis } from './redis.js';

// The package's types come from the ioredis 5 it is built against; a user with ioredis 6 gets
// its types instead. Here both are installed, so a 6 client is passed as the 5 type.
const asClient = (client: Redis | Redis<'resp3'> | Cluster) => client as unknown as RedisClient;

describe.skipIf(!hasRedis())('with ioredis 6 clients on a real redis-server', () => {
  const redis = useRedis();
  let cluster: RedisCluster;
  let single: Redis;
  let resp3: Redis<'resp3'>;
  let clusterClient: Cluster;
  const errors: Error[][] = [];

  function track<C extends Redis | Redis<'resp3'> | Cluster>(client: C): C {
    errors.push(collectErrors(client));
    return client;
  }

  beforeAll(async () => {
    cluster = await startRedisCluster();
    single = track(new Redis(redis.server.port));
    resp3 = track(new Redis(redis.server.port, { protocol: 3, replyMapping: 'resp3' }));
    clusterClient = track(new Cluster(cluster.nodes));
  });
  afterAll(async () => {
    expect(errors.flatMap(unexpectedErrors)).toEqual([]);
    single?.disconnect();
    resp3?.disconnect();
    clusterClient?.disconnect();
    await cluster?.stop();
  });

  test('the clients are ioredis 6, on RESP3', async () => {
    const { version } = (await import('ioredis-6/package.json', { with: { type: 'json' } }))
      .default;
    expect(version).toMatch(/^6\./);
    await single.ping();
    const hello = (await single.hello()) as unknown[];
    expect(hello[hello.indexOf('proto') + 1]).toBe(3);
  });

  const runner = { describe, test, expect, beforeEach, afterEach };

  storeTestSuite({
    ...runner,
    name: 'redisStore on a single node',
    createStore: () => redisStore({ client: asClient(single), prefix: 'suite:' }),
  });

  storeTestSuite({
    ...runner,
    name: "redisStore on a single node, client with replyMapping: 'resp3'",
    createStore: () => redisStore({ client: asClient(resp3), prefix: 'suite:' }),
  });

  storeTestSuite({
    ...runner,
    name: 'redisStore on a 3-master Cluster',
    createStore: () => redisStore({ client: asClient(clusterClient), prefix: 'suite:' }),
  });

  describe('values', () => {
    let stores: RedisStore[] = [];
    beforeAll(() => {
      stores = [single, clusterClient].map((client) =>
        redisStore({ client: asClient(client), prefix: 'v:' }),
      );
    });
    afterAll(async () => {
      await Promise.all(stores.map((store) => store.close()));
    });
    storeContract('a single node', () => stores[0]!);
    storeContract('a 3-master Cluster', () => stores[1]!);
  });

  describe('redisLock', () => {
    test('only one holder at a time; release lets the next one in', async () => {
      const lock = redisLock({ client: asClient(single), retryDelay: 10 });
      const first = await lock.acquire('a', { ttl: 10_000, timeout: 0 });
      expect(first).toBeDefined();
      expect(await lock.acquire('a', { ttl: 10_000, timeout: 30 })).toBeUndefined();
      expect(await first!.extend!(60_000)).toBe(true);
      const waiting = lock.acquire('a', { ttl: 10_000, timeout: 5_000 });
      await first!.release();
      const second = await waiting;
      expect(second).toBeDefined();
      await second!.release();
      expect(await single.exists('cache-lock:a')).toBe(0);
    });

    test('an error Redis answers is a command failure, not an unavailable Redis', async () => {
      const lock = redisLock({ client: asClient(single) });
      const handle = await lock.acquire('wrongtype', { ttl: 10_000, timeout: 0 });
      await single.del('cache-lock:wrongtype');
      await single.hset('cache-lock:wrongtype', 'field', 'value');
      const failure = handle!.release();
      await expect(failure).rejects.toMatchObject({ code: 'E_STORE' });
      await expect(failure).rejects.toThrow(/command failed: .*WRONGTYPE/);
      await single.del('cache-lock:wrongtype');
    });
  });

  describe('redisBus', () => {
    const message: InvalidationMessage = { type: 'delete', keys: ['user:1'] };
    test.each([
      ['a single node', () => single],
      ["a single node, replyMapping: 'resp3'", () => resp3],
      ['a 3-master Cluster', () => clusterClient],
    ] as const)(
      'a message published by one instance reaches the other, on %s',
      async (label, client) => {
        const channel = `inv6:${label}`;
        const a = redisBus({ client: asClient(client()), channel });
        const b = redisBus({ client: asClient(client()), channel });
        try {
          const received = new Promise<BusMessage>((resolve) => {
            void b.subscribe(resolve);
          });
          await b.subscribe(() => {});
          await a.publish(message);
          expect(await received).toEqual({
            ...message,
            origin: a.instanceId,
            sentAt: expect.any(Number),
          });
        } finally {
          await a.close();
          await b.close();
        }
      },
    );
  });

  test('the maxmemory-policy check reads CONFIG GET as an object under replyMapping resp3', async () => {
    await single.config('SET', 'maxmemory', '100mb');
    await single.config('SET', 'maxmemory-policy', 'noeviction');
    const client = track(new Redis(redis.server.port, { protocol: 3, replyMapping: 'resp3' }));
    try {
      const watched = redisStore({ client: asClient(client) });
      const warning = new Promise((resolve) => watched.on('warning', resolve));
      expect(await warning).toMatchObject({ code: 'E_NOEVICTION' });
      await watched.close();
    } finally {
      client.disconnect();
      await single.config('SET', 'maxmemory', '0');
    }
  });

  test('a store entry written through ioredis 5 reads back through ioredis 6', async () => {
    const five = redisStore({ port: redis.server.port, prefix: 'x:' });
    const six = redisStore({ client: asClient(single), prefix: 'x:' });
    await five.set('k', entry(new Map([[1, 'one']])));
    expect((await six.get('k'))?.value).toEqual(new Map([[1, 'one']]));
    await five.close();
  });

  test('after Redis restarts, a bus subscriber resubscribes and emits reconnect', async () => {
    await expectResubscribedAfterRestart(
      redis,
      redisBus({ client: asClient(single), channel: 'inv6r' }),
      redisBus({ client: asClient(single), channel: 'inv6r' }),
    );
  });
});
