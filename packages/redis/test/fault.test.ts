import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CacheEntry } from '@cache/core';
import { createCache, StoreError } from '@cache/core';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type BreakerState, type RedisStore, redisLock, redisStore } from '../src/index.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const TIMEOUT = 500;
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const entry = (value: unknown): CacheEntry => ({ value, expiresAt: Date.now() + 60_000 });

  function nextState(store: RedisStore, wanted: BreakerState): Promise<void> {
    return new Promise((resolve) => {
      const off = store.on('breaker', (state) => {
        if (state === wanted) {
          off();
          resolve();
        }
      });
    });
  }

  interface Outcome {
    ok: boolean;
    error?: unknown;
    ms: number;
  }

  describe('when Redis dies', () => {
    test('every call of 200 concurrent callers settles, and the store recovers after a restart', async () => {
      const store = redisStore({
        port: server.port,
        timeout: TIMEOUT,
        breaker: { threshold: 5, resetTimeout: 100 },
      });
      try {
        await store.setMany(Array.from({ length: 200 }, (_, i) => [`k${i}`, entry(i)]));
        const outcomes: Outcome[] = [];
        let stopped = false;
        let failures = 0;
        let onProgress = () => {};
        const caller = async (i: number) => {
          while (!stopped) {
            const started = performance.now();
            try {
              await store.get(`k${i}`);
              outcomes.push({ ok: true, ms: performance.now() - started });
            } catch (error) {
              failures++;
              outcomes.push({ ok: false, error, ms: performance.now() - started });
            }
            onProgress();
            await nextTurn(); // like a server between two requests
          }
        };
        const until = (done: () => boolean) =>
          new Promise<void>((resolve) => {
            onProgress = () => {
              if (done()) resolve();
            };
          });

        const running = Array.from({ length: 200 }, (_, i) => caller(i));
        await until(() => outcomes.length >= 2_000);
        const opened = nextState(store, 'open');
        await server.kill();
        await opened;
        await until(() => failures >= 2_000);
        stopped = true;
        await Promise.all(running);

        const errors = outcomes.filter((outcome) => !outcome.ok).map((outcome) => outcome.error);
        expect(errors.length).toBeGreaterThanOrEqual(2_000);
        for (const error of errors) {
          expect(error).toBeInstanceOf(StoreError);
          expect(['E_STORE_TIMEOUT', 'E_STORE_UNAVAILABLE']).toContain((error as StoreError).code);
        }
        // No call hangs: the slowest one is bounded by the operation timeout, with room for a
        // busy machine.
        expect(Math.max(...outcomes.map((outcome) => outcome.ms))).toBeLessThan(TIMEOUT * 4);
        expect(store.stats().breakerOpened).toBeGreaterThanOrEqual(1);

        const closed = nextState(store, 'closed');
        await server.restart();
        await closed;
        await store.set('after', entry('back'));
        expect((await store.get('after'))?.value).toBe('back');
      } finally {
        await store.close();
      }
    });

    test('createCache falls back to the loader and drops writes with an error event', async () => {
      const store = redisStore({ port: server.port, timeout: TIMEOUT });
      const lock = redisLock({ client: store.client, timeout: TIMEOUT });
      const cache = createCache({ store, ttl: '1m', lock });
      try {
        await cache.set('user', 'cached');
        expect(await cache.getOrSet('user', () => 'loaded')).toBe('cached');

        await server.kill();
        const errors: unknown[] = [];
        cache.on('error', (event) => errors.push(event.error));
        expect(await cache.getOrSet('user', () => 'loaded')).toBe('loaded');
        expect(await cache.getOrSet('cold', () => 'loaded without the lock')).toBe(
          'loaded without the lock',
        );
        expect(await cache.set('user', 'new')).toBe(false);
        expect(cache.stats().droppedWrites).toBeGreaterThanOrEqual(1);
        expect(errors.length).toBeGreaterThanOrEqual(1);
        expect(errors.every((error) => error instanceof StoreError)).toBe(true);

        await server.restart();
        // The server restarted empty; once the client is back the cache stores again.
        await new Promise<void>((resolve) => store.client.once('ready', () => resolve()));
        expect(await cache.set('user', 'again')).toBe(true);
        expect(await cache.get('user')).toBe('again');
      } finally {
        await cache.close();
      }
    });

    test('a Redis that never answers rejects with a timeout instead of hanging', async () => {
      const stopped = await startRedis();
      const port = stopped.port;
      await stopped.stop();
      const store = redisStore({ port, timeout: 200 });
      try {
        const error = await store.get('k').catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).code).toBe('E_STORE_TIMEOUT');
      } finally {
        await store.close();
      }
    });
  });

  describe('when Redis hangs', () => {
    test('calls time out, the breaker opens, and a probe closes it once Redis answers again', async () => {
      const store = redisStore({
        port: server.port,
        timeout: 200,
        breaker: { threshold: 3, resetTimeout: 100 },
      });
      try {
        await store.set('k', entry('v'));
        server.pause();
        const opened = nextState(store, 'open');
        const errors: unknown[] = [];
        while (store.stats().breaker === 'closed') {
          errors.push(await store.get('k').catch((error: unknown) => error));
        }
        await opened;
        expect(errors.every((error) => (error as StoreError).code === 'E_STORE_TIMEOUT')).toBe(
          true,
        );
        const failFast = await store.get('k').catch((error: unknown) => error);
        expect(failFast).toMatchObject({ code: 'E_STORE_UNAVAILABLE' });

        server.resume();
        const closed = nextState(store, 'closed');
        await closed;
        expect((await store.get('k'))?.value).toBe('v');
      } finally {
        server.resume();
        await store.close();
      }
    });
  });
});
