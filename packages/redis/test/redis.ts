import { type Cache, type CacheOptions, createCache } from '@cache/core';
import {
  collectErrors,
  type RedisServer,
  startRedis,
  unexpectedErrors,
} from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { type RedisStore, type RedisStoreOptions, redisStore } from '../src/index.js';

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

/** Two caches over stores of their own on one Redis, as two processes of an app. */
export interface CachePair {
  caches: [Cache, Cache];
  stores: [RedisStore, RedisStore];
  /** The stores' prefix. */
  prefix: string;
}

/** A list of what a test opened, closed after each test. */
export function useClosing(): { close(): Promise<void> }[] {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((one) => one.close()));
  });
  return opened;
}

/**
 * Makes pairs of caches on the test file's Redis, a fresh prefix (starting with `name`) per
 * pair, and closes them after each test.
 */
export function useCachePairs(
  redis: TestRedis,
  name: string,
): (store?: RedisStoreOptions, cache?: Omit<CacheOptions, 'store'>) => CachePair {
  const opened = useClosing();
  let run = 0;
  return (store = {}, cache = {}) => {
    const prefix = `${name}:${run++}:`;
    const stores = [0, 1].map(() => redisStore({ port: redis.server.port, prefix, ...store })) as [
      RedisStore,
      RedisStore,
    ];
    const caches = stores.map((one) => createCache({ ...cache, store: one })) as [Cache, Cache];
    opened.push(...caches);
    return { caches, stores, prefix };
  };
}
