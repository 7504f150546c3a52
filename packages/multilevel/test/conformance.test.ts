import { memoryStore } from '@cache/memory';
import { type RedisStore, redisStore } from '@cache/redis';
import { storeTestSuite } from '@cache/test-suite';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { multilevel } from '../src/index.js';

const runner = { describe, test, expect, beforeEach, afterEach };

storeTestSuite({
  ...runner,
  name: 'multilevel([memory, memory, memory])',
  createStore: () =>
    multilevel({ tiers: [memoryStore(), memoryStore(), memoryStore({ clone: true })] }),
});

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let server: RedisServer;
  const redisTiers: RedisStore[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(redisTiers.map((tier) => tier.close()));
    await server?.stop();
  });

  let run = 0;
  storeTestSuite({
    ...runner,
    name: 'multilevel([memory, redis])',
    createStore: () => {
      const l2 = redisStore({ port: server.port, prefix: `conformance:${run++}:` });
      redisTiers.push(l2);
      // No l1Ttl here: a capped L1 copy has a shorter staleUntil by design (see multilevel.test.ts).
      return multilevel({ tiers: [memoryStore(), l2] });
    },
  });
});
