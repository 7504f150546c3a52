import { jsonSerializer } from '@cache/core';
import { storeTestSuite, tagRaceSuite } from '@cache/test-suite';
import { hasRedis, type RedisCluster, startRedisCluster } from '@cache-tooling/redis-server';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { type RedisStoreOptions, redisStore } from '../src/index.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();
  let cluster: RedisCluster;
  let clusterClient: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    clusterClient = new Cluster(cluster.nodes);
  });
  afterAll(async () => {
    clusterClient?.disconnect();
    await cluster?.stop();
  });

  const runner = { describe, test, expect, beforeEach, afterEach };

  storeTestSuite({
    ...runner,
    name: 'redisStore on a single node',
    createStore: () => redisStore({ port: redis.server.port, prefix: 'suite:' }),
  });

  // Values in the serialized format: tag records are merged in Lua all the same.
  storeTestSuite({
    ...runner,
    name: 'redisStore on a single node, with jsonSerializer',
    createStore: () =>
      redisStore({ port: redis.server.port, prefix: 'suite:', serializer: jsonSerializer }),
    capabilities: { richValues: false },
  });

  storeTestSuite({
    ...runner,
    name: 'redisStore on a 3-master Cluster',
    createStore: () => redisStore({ client: clusterClient, prefix: 'suite:' }),
  });

  // Two stores on one server, as two processes have: a late tag record never lowers another's.
  let run = 0;
  const racing: [string, () => RedisStoreOptions][] = [
    ['a single node', () => ({ port: redis.server.port })],
    [
      'a single node, with jsonSerializer',
      () => ({ port: redis.server.port, serializer: jsonSerializer }),
    ],
    ['a 3-master Cluster', () => ({ client: clusterClient })],
  ];
  for (const [where, connect] of racing) {
    tagRaceSuite({
      ...runner,
      name: `two redisStores on ${where}`,
      createStores: () => {
        const prefix = `race:${run++}:`;
        return [redisStore({ ...connect(), prefix }), redisStore({ ...connect(), prefix })];
      },
    });
  }
});
