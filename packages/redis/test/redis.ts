import { type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** A server of this test file and a plain client to inspect it, set in `beforeAll`. */
export interface TestRedis {
  server: RedisServer;
  raw: Redis;
}

/** Starts a redis-server for the current test file, with a plain client; stops both after it. */
export function useRedis(): TestRedis {
  const context = {} as TestRedis;
  beforeAll(async () => {
    context.server = await startRedis();
    context.raw = new Redis(context.server.port);
  });
  afterAll(async () => {
    context.raw?.disconnect();
    await context.server?.stop();
  });
  return context;
}
