import { memoryStore } from '@cache/memory';
import { type RedisStore, redisBus, redisStore } from '@cache/redis';
import { storeTestSuite, tagRaceSuite } from '@cache/test-suite';
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

  // Two processes, each with its own L1 over one Redis: a late tag record lowers no other's,
  // neither in Redis nor in the L1 of the process whose write came late.
  let race = 0;
  for (const bus of [false, true]) {
    tagRaceSuite({
      ...runner,
      name: `two multilevel([memory, redis]) ${bus ? 'with' : 'without'} a bus`,
      createStores: async () => {
        const prefix = `race:${race++}:`;
        const process = async () => {
          const l2 = redisStore({ port: server.port, prefix });
          if (!bus) return multilevel({ tiers: [memoryStore(), l2] });
          const relay = redisBus({ client: l2.client, channel: prefix });
          await relay.subscribe(() => {});
          return multilevel({ tiers: [memoryStore(), l2], bus: relay });
        };
        return [await process(), await process()];
      },
    });
  }
});
