import { afterEach, describe, expect, test, vi } from 'vitest';
import { type CacheLock, createCache, type LockHandle } from '../src/index.js';
import { deferred, TestStore } from './testStore.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('getOrSet', () => {
  test('calls the loader on a miss and serves the cached value afterwards', async () => {
    const cache = createCache({ store: new TestStore() });
    const loader = vi.fn(async () => ({ name: 'Ada' }));
    expect(await cache.getOrSet('user:1', loader)).toEqual({ name: 'Ada' });
    expect(await cache.getOrSet('user:1', loader)).toEqual({ name: 'Ada' });
    expect(loader).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, loads: 1, sets: 1 });
  });

  test('runs the loader once for 10,000 concurrent callers of a cold key', async () => {
    for (const async of [false, true]) {
      const cache = createCache({ store: new TestStore({ async }) });
      const gate = deferred<string>();
      const loader = vi.fn(() => gate.promise);
      const calls = Array.from({ length: 10_000 }, () => cache.getOrSet('hot', loader));
      gate.resolve('value');
      const results = await Promise.all(calls);
      expect(loader).toHaveBeenCalledTimes(1);
      expect(results.every((r) => r === 'value')).toBe(true);
      expect(cache.stats().inflight).toBe(0);
    }
  });

  test('shares one rejection among concurrent callers and retries on the next call', async () => {
    const cache = createCache({ store: new TestStore() });
    const loader = vi.fn().mockRejectedValueOnce(new Error('db down')).mockResolvedValue('ok');
    const results = await Promise.allSettled([
      cache.getOrSet('k', loader),
      cache.getOrSet('k', loader),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'E_LOADER',
      key: 'k',
    });
    expect(await cache.getOrSet('k', loader)).toBe('ok');
    expect(loader).toHaveBeenCalledTimes(2);
  });

  test('returns undefined from a loader without caching it', async () => {
    const cache = createCache({ store: new TestStore() });
    const loader = vi.fn(async () => undefined);
    expect(await cache.getOrSet('k', loader)).toBeUndefined();
    expect(await cache.getOrSet('k', loader)).toBeUndefined();
    expect(loader).toHaveBeenCalledTimes(2);
  });

  test('caches null for the negative TTL', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), ttl: '1h', negativeTtl: '30s' });
    const loader = vi.fn(async () => null);
    expect(await cache.getOrSet('missing', loader)).toBeNull();
    expect(await cache.getOrSet('missing', loader)).toBeNull();
    expect(loader).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(30_001);
    await cache.getOrSet('missing', loader);
    expect(loader).toHaveBeenCalledTimes(2);
  });

  test('expires values after their TTL', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), ttl: '10s' });
    let n = 0;
    const loader = async () => ++n;
    expect(await cache.getOrSet('k', loader)).toBe(1);
    vi.advanceTimersByTime(9_999);
    expect(await cache.getOrSet('k', loader)).toBe(1);
    vi.advanceTimersByTime(2);
    expect(await cache.getOrSet('k', loader)).toBe(2);
  });

  test('lets the loader change the TTL and tags, or skip caching', async () => {
    const store = new TestStore();
    const cache = createCache({ store, ttl: '1h' });
    const before = Date.now();
    await cache.getOrSet('a', (ctx) => {
      ctx.setTtl('5s');
      ctx.setTags(['users']);
      return 1;
    });
    const entry = store.data.get('a') as { expiresAt: number; tags: string[] };
    expect(entry.expiresAt - before).toBeGreaterThanOrEqual(5_000);
    expect(entry.expiresAt - before).toBeLessThan(6_000);
    expect(entry.tags).toEqual(['users']);

    await cache.getOrSet('b', (ctx) => {
      ctx.skip();
      return 2;
    });
    expect(store.data.has('b')).toBe(false);
  });

  test('gives the loader its key without the namespace and an abort signal', async () => {
    const cache = createCache({ store: new TestStore() }).namespace('users');
    await cache.getOrSet('7', (ctx) => {
      expect(ctx.key).toBe('7');
      expect(ctx.signal).toBeInstanceOf(AbortSignal);
      expect(ctx.signal.aborted).toBe(false);
      expect(ctx.stale).toBeUndefined();
      return 'x';
    });
  });

  test('spreads TTLs by the jitter (the seed: 1 h ± 5 min)', async () => {
    const store = new TestStore();
    const cache = createCache({ store, ttl: 3_600_000, jitter: '5m' });
    const now = Date.now();
    await Promise.all(Array.from({ length: 500 }, (_, i) => cache.set(`k${i}`, i)));
    const ttls = [...store.data.values()].map((e) => (e as { expiresAt: number }).expiresAt - now);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(3_300_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(3_900_000 + 1_000);
    expect(new Set(ttls.map((t) => Math.floor(t / 60_000))).size).toBeGreaterThan(5);
  });

  test('never spreads a TTL by more than half of it', async () => {
    const store = new TestStore();
    const cache = createCache({ store, ttl: '1h', jitter: '5m' });
    const now = Date.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => cache.set(`k${i}`, i, { ttl: 1_000 })));
    const ttls = [...store.data.values()].map((e) => (e as { expiresAt: number }).expiresAt - now);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(1_500 + 100);
  });

  test('reloads when the cached value is of another version', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.getOrSet('doc', async () => 'v1 data', { version: 1 });
    expect(await cache.get('doc', { version: 1 })).toBe('v1 data');
    expect(await cache.get('doc', { version: 2 })).toBeUndefined();
    expect(await cache.getOrSet('doc', async () => 'v2 data', { version: 2 })).toBe('v2 data');
    expect(await cache.get('doc', { version: 1 })).toBeUndefined();
  });

  test('with a shared lock, two caches over one store call the loader once', async () => {
    const store = new TestStore({ async: true });
    const lock = new InProcessLock();
    const a = createCache({ store, lock });
    const b = createCache({ store, lock });
    const gate = deferred<string>();
    const loader = vi.fn(() => gate.promise);
    const calls = [a.getOrSet('cold', loader), b.getOrSet('cold', loader)];
    await vi.waitFor(() => expect(loader).toHaveBeenCalledTimes(1));
    gate.resolve('loaded');
    expect(await Promise.all(calls)).toEqual(['loaded', 'loaded']);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(lock.held.size).toBe(0);
  });
});

// A lock shared by two caches in one process: the same role redisLock plays across processes.
class InProcessLock implements CacheLock {
  readonly held = new Map<string, Promise<void>>();

  async acquire(key: string, options: { timeout: number }): Promise<LockHandle | undefined> {
    const deadline = Date.now() + options.timeout;
    while (this.held.has(key)) {
      if (Date.now() > deadline) return undefined;
      await Promise.race([this.held.get(key), new Promise((r) => setTimeout(r, options.timeout))]);
    }
    let release!: () => void;
    this.held.set(key, new Promise<void>((r) => (release = r)));
    return {
      release: async () => {
        this.held.delete(key);
        release();
      },
    };
  }
}
