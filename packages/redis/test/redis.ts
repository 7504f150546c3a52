import {
  collectErrors,
  type RedisServer,
  startRedis,
  unexpectedErrors,
} from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';

/** A server of this test file and a plain client to inspect it, set in `beforeAll`. */
export interface TestRedis {
  server: RedisServer;
  raw: Redis;
}

/**
 * Starts a redis-server for the current test file, with a plain client; stops both after it, and
 * fails if the client saw an error other than its server being down.
 */
export function useRedis(): TestRedis {
  const context = {} as TestRedis;
  let errors: Error[] = [];
  beforeAll(async () => {
    context.server = await startRedis();
    context.raw = new Redis(context.server.port);
    errors = collectErrors(context.raw);
  });
  afterAll(async () => {
    // It may fail to reconnect while a test has the server down, and nothing else.
    expect(unexpectedErrors(errors)).toEqual([]);
    context.raw?.disconnect();
    await context.server?.stop();
  });
  return context;
}
