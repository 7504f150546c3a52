import { storeTestSuite } from '@cache/test-suite';
import { hasRedis, type RedisCluster, startRedisCluster } from '@cache-tooling/redis-server';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { redisStore } from '../src/index.js';
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

  storeTestSuite({
    ...runner,
    name: 'redisStore on a 3-master Cluster',
    createStore: () => redisStore({ client: clusterClient, prefix: 'suite:' }),
  });
});
