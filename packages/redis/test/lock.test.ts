import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { type CacheEvents, createCache, InvalidArgumentError } from '@cache/core';
import { forkFixture } from '@cache-tooling/config/processes';
import { hasRedis } from '@cache-tooling/redis-server';
import { describe, expect, test } from 'vitest';
import { redisLock, redisStore } from '../src/index.js';
import { useRedis } from './redis.js';

// A worker's next message; a worker that dies fails the test at once instead of leaving it waiting.
const message = (child: ChildProcess) =>
  Promise.race([
    once(child, 'message').then(([value]) => value),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`worker exited ${code}`))),
  ]);

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();

  describe('redisLock', () => {
    test('only one holder at a time; release lets the next one in', async () => {
      const lock = redisLock({ client: redis.raw, retryDelay: 10 });
      const first = await lock.acquire('a', { ttl: 10_000, timeout: 0 });
      expect(first).toBeDefined();
      expect(await lock.acquire('a', { ttl: 10_000, timeout: 30 })).toBeUndefined();
      const waiting = lock.acquire('a', { ttl: 10_000, timeout: 5_000 });
      await first!.release();
      const second = await waiting;
      expect(second).toBeDefined();
      await second!.release();
      expect(await redis.raw.exists('cache-lock:a')).toBe(0);
    });

    test('the lock key expires with the ttl (PX)', async () => {
      const lock = redisLock({ client: redis.raw, prefix: 'locks:' });
      const handle = await lock.acquire('ttl', { ttl: 5_000, timeout: 0 });
      const pttl = await redis.raw.pttl('locks:ttl');
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000);
      await handle!.release();
    });

    test('a holder whose lock expired neither releases nor extends the next holder’s lock', async () => {
      const lock = redisLock({ client: redis.raw });
      const stale = await lock.acquire('b', { ttl: 10_000, timeout: 0 });
      await redis.raw.del('cache-lock:b'); // what expiry does
      const current = await lock.acquire('b', { ttl: 10_000, timeout: 0 });
      await stale!.release();
      expect(await redis.raw.exists('cache-lock:b')).toBe(1);
      expect(await stale!.extend!(60_000)).toBe(false);
      expect(await current!.extend!(60_000)).toBe(true);
      expect(await redis.raw.pttl('cache-lock:b')).toBeGreaterThan(10_000);
      await current!.release();
    });

    test('an aborted wait resolves undefined', async () => {
      const lock = redisLock({ client: redis.raw });
      const held = await lock.acquire('c', { ttl: 10_000, timeout: 0 });
      const controller = new AbortController();
      const waiting = lock.acquire('c', {
        ttl: 10_000,
        timeout: 60_000,
        signal: controller.signal,
      });
      controller.abort();
      expect(await waiting).toBeUndefined();
      await held!.release();
    });

    test('a bad ttl is an InvalidArgumentError', async () => {
      const lock = redisLock({ client: redis.raw });
      await expect(lock.acquire('d', { ttl: Number.NaN, timeout: 0 })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    });

    test('4 processes asking for the same cold key run the loader once', async () => {
      const worker = new URL('./fixtures/lockWorker.ts', import.meta.url);
      const children: ChildProcess[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          children.push(forkFixture(worker, [String(redis.server.port), 'cold', 'loader-calls']));
        }
        await Promise.all(children.map(message));
        const answers = children.map(message);
        for (const child of children) child.send('go');
        const values = await Promise.all(answers);
        expect(Number(await redis.raw.get('loader-calls'))).toBe(1);
        expect(new Set(values).size).toBe(1);
      } finally {
        for (const child of children) child.kill();
      }
    });

    test('4 processes reading a key past its refresh threshold: each answers at once, one refreshes', async () => {
      const worker = new URL('./fixtures/refreshWorker.ts', import.meta.url);
      const writer = createCache({
        store: redisStore({ port: redis.server.port, prefix: 'refresh-test:' }),
        ttl: '20s',
      });
      const children: ChildProcess[] = [];
      try {
        await writer.set('hot', 'cached');
        for (let i = 0; i < 4; i++) {
          children.push(forkFixture(worker, [String(redis.server.port), 'hot', 'refreshes']));
        }
        await Promise.all(children.map(message));
        // Past the threshold (1 s after the write), far from the expiry (20 s).
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        const answers = children.map(message);
        for (const child of children) child.send('go');
        expect(await Promise.all(answers)).toEqual(['cached', 'cached', 'cached', 'cached']);
        expect(Number(await redis.raw.get('refreshes'))).toBe(1);
        expect(await writer.get('hot')).toMatch(/^refreshed by \d+$/);
      } finally {
        for (const child of children) child.kill();
        await writer.close();
      }
    }, 30_000);

    test('the default lock prefix lies outside the store’s: cache.clear() leaves held locks alone', async () => {
      const store = redisStore({ port: redis.server.port });
      const lock = redisLock({ client: store.client });
      const cache = createCache({ store, lock });
      try {
        const held = await lock.acquire('k', { ttl: 10_000, timeout: 0 });
        await cache.set('k', 'v');
        await cache.clear();
        expect(await cache.get('k')).toBeUndefined();
        expect(await lock.acquire('k', { ttl: 10_000, timeout: 0 })).toBeUndefined();
        await held!.release();
      } finally {
        await cache.close();
      }
    });
  });

  /** Two caches over one Redis, as two processes would have, sharing one lock; closed after the test. */
  function twoProcesses(options: { lockTtl: string }) {
    const store = redisStore({ port: redis.server.port, prefix: 'lease:' });
    const lock = redisLock({ client: store.client, retryDelay: 10 });
    const caches = [0, 1].map(() => createCache({ store, lock, ttl: '1m', ...options }));
    return { store, lock, caches, close: () => Promise.all(caches.map((cache) => cache.close())) };
  }

  describe('getOrSet under redisLock: the lock is a lease', () => {
    test('a loader slower than lockTtl keeps the lock: it runs once', async () => {
      const { caches, close } = twoProcesses({ lockTtl: '1s' });
      try {
        let calls = 0;
        const slow = async () => {
          calls++;
          await new Promise((resolve) => setTimeout(resolve, 2_500));
          return `load ${calls}`;
        };
        const first = caches[0]!.getOrSet('slow', slow);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const second = caches[1]!.getOrSet('slow', slow);
        expect(await Promise.all([first, second])).toEqual(['load 1', 'load 1']);
        expect(calls).toBe(1);
      } finally {
        await close();
      }
    });

    test('a holder whose lease lapsed does not store its value over the next holder’s', async () => {
      const { caches, close } = twoProcesses({ lockTtl: '10s' });
      const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>];
      try {
        const lost: CacheEvents['error'][] = [];
        a.on('error', (event) => lost.push(event));
        let finish!: (value: string) => void;
        let started!: () => void;
        const loading = new Promise<void>((resolve) => (started = resolve));
        const late = a.getOrSet('fenced', () => {
          started();
          return new Promise<string>((resolve) => (finish = resolve));
        });
        await loading;
        await redis.raw.del('cache-lock:fenced'); // what a lapsed lease looks like
        expect(await b.getOrSet('fenced', async () => 'from the next holder')).toBe(
          'from the next holder',
        );
        await b.flush();
        finish('from the lapsed holder');
        expect(await late).toBe('from the lapsed holder'); // its own callers get what it loaded
        await a.flush();
        expect(await b.get('fenced')).toBe('from the next holder');
        expect(lost).toEqual([
          expect.objectContaining({ operation: 'lock', dropped: true, key: 'fenced' }),
        ]);
        expect(lost[0]!.error).toMatchObject({ code: 'E_LOCK_LOST' });
        expect(a.stats().droppedWrites).toBe(1);
      } finally {
        await close();
      }
    });

    test('a loader past its hard timeout stops renewing: another process takes over', async () => {
      const store = redisStore({ port: redis.server.port, prefix: 'lease:' });
      const lock = redisLock({ client: store.client, retryDelay: 10 });
      const options = { store, lock, ttl: '1m', lockTtl: '300ms', lockTimeout: '1m' } as const;
      const hung = createCache({ ...options, timeouts: { hard: '200ms' } });
      const other = createCache(options);
      try {
        await expect(
          hung.getOrSet('hung', () => new Promise<never>(() => {})),
        ).rejects.toMatchObject({ code: 'E_LOADER_TIMEOUT' });
        // Were the hung load still renewing its lease, this would wait for lockTimeout (1 min).
        expect(await other.getOrSet('hung', async () => 'taken over')).toBe('taken over');
      } finally {
        await Promise.all([hung.close(), other.close()]);
      }
    });

    test('without a hard timeout, a loader that never settles holds the lock for lockTimeout at most', async () => {
      const store = redisStore({ port: redis.server.port, prefix: 'lease:' });
      const lock = redisLock({ client: store.client, retryDelay: 10 });
      const options = { store, lock, ttl: '1m', lockTtl: '300ms' } as const;
      const stuck = createCache({ ...options, lockTimeout: '600ms' });
      const other = createCache({ ...options, lockTimeout: '1m' });
      try {
        let started!: () => void;
        const loading = new Promise<void>((resolve) => (started = resolve));
        void stuck.getOrSet('stuck', () => {
          started();
          return new Promise<never>(() => {});
        });
        await loading;
        // Were the stuck load renewing its lease for ever, this would wait for lockTimeout (1 min).
        expect(await other.getOrSet('stuck', async () => 'taken over')).toBe('taken over');
      } finally {
        await Promise.all([stuck.close(), other.close()]);
      }
    });

    test('a holder killed mid-load: the waiters take over when its lease lapses, one loads', async () => {
      const worker = new URL('./fixtures/lockWorker.ts', import.meta.url);
      const holder = forkFixture(worker, [
        String(redis.server.port),
        'killed',
        'killed-calls',
        'hang',
      ]);
      const store = redisStore({ port: redis.server.port, prefix: 'lock-test:' });
      const lock = redisLock({ client: store.client });
      // Defaults: lockTtl 5 s, lockTimeout 10 s.
      const survivors = [0, 1, 2].map(() => createCache({ store, lock, ttl: '1m' }));
      try {
        const [ready] = await once(holder, 'message');
        expect(ready).toBe('ready');
        holder.send('go');
        const [loading] = await once(holder, 'message');
        expect(loading).toBe('loading');
        holder.kill('SIGKILL');
        await once(holder, 'exit');
        let calls = 0;
        const values = await Promise.all(
          survivors.map((cache) =>
            cache.getOrSet('killed', async () => {
              calls++;
              await new Promise((resolve) => setTimeout(resolve, 100));
              return `loaded by a survivor (${calls})`;
            }),
          ),
        );
        expect(calls).toBe(1);
        expect(new Set(values)).toEqual(new Set(['loaded by a survivor (1)']));
      } finally {
        holder.kill('SIGKILL');
        await Promise.all(survivors.map((cache) => cache.close()));
      }
    }, 30_000);
  });
});
