import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  type CacheLock,
  cached,
  createCache,
  InvalidArgumentError,
  LoaderError,
} from '../src/index.js';
import { deferred, TestStore } from './testStore.js';

afterEach(() => {
  vi.useRealTimers();
});

// Lets the background work a hit started (a refresh and its store write) run to its end.
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('refresh-ahead', () => {
  test.each([
    ['synchronous', false],
    ['asynchronous', true],
  ])(
    'a hit past the threshold returns the cached value at once and refreshes it in the background (%s store)',
    async (_, async) => {
      vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      const cache = createCache({
        store: new TestStore({ async }),
        ttl: '1m',
        refresh: { ahead: 0.8 },
      });
      await cache.getOrSet('k', async () => 'v1');
      await cache.flush();
      vi.advanceTimersByTime(49_000); // 82% of the TTL
      const next = deferred<string>();
      const loader = vi.fn(() => next.promise);
      expect(await cache.getOrSet('k', loader)).toBe('v1');
      expect(await cache.getOrSet('k', loader)).toBe('v1');
      expect(loader).toHaveBeenCalledTimes(1);
      next.resolve('v2');
      await settle();
      await cache.flush();
      expect(await cache.getOrSet('k', loader)).toBe('v2');
      expect(loader).toHaveBeenCalledTimes(1);
    },
  );

  test('concurrent reads of an asynchronous store past the threshold start one refresh', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({
      store: new TestStore({ async: true }),
      ttl: '1m',
      refresh: { ahead: 0.5 },
    });
    await cache.getOrSet('k', async () => 'v1');
    await cache.flush();
    vi.advanceTimersByTime(31_000);
    const next = deferred<string>();
    const loader = vi.fn(() => next.promise);
    const reads = await Promise.all([1, 2, 3].map(() => cache.getOrSet('k', loader)));
    expect(reads).toEqual(['v1', 'v1', 'v1']);
    expect(loader).toHaveBeenCalledTimes(1);
    next.resolve('v2');
  });

  test('a hit before the threshold does not refresh', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', refresh: { ahead: '50s' } });
    await cache.getOrSet('k', async () => 'v1');
    vi.advanceTimersByTime(45_000);
    const loader = vi.fn(async () => 'v2');
    expect(await cache.getOrSet('k', loader)).toBe('v1');
    await settle();
    expect(loader).not.toHaveBeenCalled();
    vi.advanceTimersByTime(6_000);
    expect(await cache.getOrSet('k', loader)).toBe('v1');
    expect(loader).toHaveBeenCalledTimes(1);
  });

  test('a failed refresh is reported, keeps the value and is not tried again for graceBackoff', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({
      store: new TestStore(),
      ttl: '1m',
      graceBackoff: '5s',
      refresh: { ahead: 0.5 },
    });
    const errors = vi.fn();
    cache.on('error', errors);
    await cache.getOrSet('k', async () => 'v1');
    vi.advanceTimersByTime(31_000);
    const failing = vi.fn(async () => Promise.reject(new Error('db down')));
    expect(await cache.getOrSet('k', failing)).toBe('v1');
    await settle();
    expect(await cache.getOrSet('k', failing)).toBe('v1');
    await settle();
    expect(failing).toHaveBeenCalledTimes(1);
    expect(errors).toHaveBeenCalledWith(expect.objectContaining({ operation: 'loader', key: 'k' }));
    vi.advanceTimersByTime(5_001);
    expect(await cache.getOrSet('k', async () => 'v2')).toBe('v1');
    await cache.flush();
    expect(await cache.get('k')).toBe('v2');
  });

  test('a refresh voided by a delete stores nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', refresh: { ahead: 0.5 } });
    await cache.getOrSet('k', async () => 'v1');
    vi.advanceTimersByTime(31_000);
    const next = deferred<string>();
    expect(await cache.getOrSet('k', () => next.promise)).toBe('v1');
    await cache.delete('k');
    next.resolve('loaded before the delete');
    await cache.flush();
    expect(await cache.get('k')).toBeUndefined();
  });

  test('with a shared lock held elsewhere, a hit returns the value and does not refresh', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const tries: number[] = [];
    const busy: CacheLock = {
      acquire: async (_key, { timeout }) => {
        tries.push(timeout);
        return undefined;
      },
    };
    const cache = createCache({
      store: new TestStore(),
      ttl: '1m',
      lock: busy,
      refresh: { ahead: 0.5 },
    });
    await cache.getOrSet('k', async () => 'v1', { lock: false });
    vi.advanceTimersByTime(31_000);
    const loader = vi.fn(async () => 'v2');
    expect(await cache.getOrSet('k', loader)).toBe('v1');
    await cache.flush();
    expect(tries).toEqual([0]);
    expect(loader).not.toHaveBeenCalled();
    expect(await cache.get('k')).toBe('v1');
  });

  test('rejects a threshold that is neither a fraction nor a duration', () => {
    const store = new TestStore();
    expect(() => createCache({ store, refresh: { ahead: 0 } })).toThrow(InvalidArgumentError);
    expect(() => createCache({ store, refresh: { ahead: -1 } })).toThrow(/refresh\.ahead/);
    expect(() => createCache({ store, refresh: { ahead: 'soon' } })).toThrow(/refresh\.ahead/);
  });
});

describe('stale-while-revalidate', () => {
  test('swr serves the stale value at once and refreshes it in the background', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', swr: '10m' });
    const stale = vi.fn();
    cache.on('stale', stale);
    await cache.getOrSet('k', async () => 'v1');
    vi.advanceTimersByTime(2 * 60_000);
    const next = deferred<string>();
    expect(await cache.getOrSet('k', () => next.promise)).toBe('v1');
    expect(stale).toHaveBeenCalledWith(expect.objectContaining({ reason: 'soft-timeout' }));
    next.resolve('v2');
    await settle();
    await cache.flush();
    expect(await cache.get('k')).toBe('v2');
  });

  test('past swr a read waits for the loader', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', swr: '10m' });
    await cache.getOrSet('k', async () => 'v1');
    vi.advanceTimersByTime(12 * 60_000);
    expect(await cache.getOrSet('k', async () => 'v2')).toBe('v2');
  });
});

describe('forceFresh', () => {
  test('calls the loader though a fresh value is cached, and stores its result', async () => {
    const cache = createCache({ store: new TestStore(), ttl: '1h' });
    await cache.getOrSet('k', async () => 'v1');
    expect(await cache.getOrSet('k', async () => 'v2', { forceFresh: true })).toBe('v2');
    await cache.flush();
    expect(await cache.get('k')).toBe('v2');
  });

  test('falls back on the fresh cached value when the loader fails', async () => {
    const cache = createCache({ store: new TestStore({ async: true }), ttl: '1h' });
    await cache.getOrSet('k', async () => 'v1');
    const failing = async () => Promise.reject(new Error('db down'));
    expect(await cache.getOrSet('k', failing, { forceFresh: true })).toBe('v1');
  });

  test('falls back on a stale value only within grace, else rejects', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '1m' });
    await cache.getOrSet('k', async () => 'v1');
    const failing = async () => Promise.reject(new Error('db down'));
    vi.advanceTimersByTime(90_000);
    expect(await cache.getOrSet('k', failing, { forceFresh: true })).toBe('v1');
    vi.advanceTimersByTime(60_000);
    await expect(cache.getOrSet('k', failing, { forceFresh: true })).rejects.toBeInstanceOf(
      LoaderError,
    );
  });

  test('with nothing cached, a failing loader rejects', async () => {
    const cache = createCache({ store: new TestStore() });
    await expect(
      cache.getOrSet('k', async () => Promise.reject(new Error('down')), { forceFresh: true }),
    ).rejects.toBeInstanceOf(LoaderError);
  });
});

describe('getEntry and remainingTtl', () => {
  test('tell a fresh value, its expiry, tags and version', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const now = Date.now();
    const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '1h' });
    await cache
      .namespace('users', { versioned: true })
      .set('1', 'Ada', { tags: ['team'], version: 2 });
    expect(await cache.namespace('users', { versioned: true }).getEntry('1')).toEqual({
      value: 'Ada',
      stale: false,
      invalidated: false,
      expiresAt: now + 60_000,
      staleUntil: now + 60_000 + 3_600_000,
      tags: ['team'],
      version: 2,
    });
    vi.advanceTimersByTime(20_000);
    expect(await cache.remainingTtl('users:1')).toBe(40_000);
  });

  test('tell a stale value within grace, and nothing past it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '1m' });
    await cache.set('k', 'v');
    vi.advanceTimersByTime(90_000);
    expect(await cache.getEntry('k')).toMatchObject({ value: 'v', stale: true });
    expect(await cache.remainingTtl('k')).toBe(0);
    expect(await cache.get('k')).toBeUndefined();
    vi.advanceTimersByTime(60_000);
    expect(await cache.getEntry('k')).toBeUndefined();
    expect(await cache.remainingTtl('k')).toBeUndefined();
  });

  test('tell nothing of a value invalidated by a tag or of another version', async () => {
    const cache = createCache({ store: new TestStore({ async: true }), grace: '1h' });
    await cache.set('a', 1, { tags: ['t'] });
    await cache.set('b', 2, { version: 1 });
    await cache.invalidateTags(['t']);
    expect(await cache.getEntry('a')).toBeUndefined();
    expect(await cache.getEntry('b', { version: 2 })).toBeUndefined();
    expect(await cache.getEntry('b', { version: 1 })).toMatchObject({ value: 2, version: 1 });
  });
});

describe("ttl: 'forever'", () => {
  test('a value stored forever never expires, from the cache option, a call or the loader', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const cache = createCache({ store: new TestStore(), ttl: 'forever' });
      await cache.set('option', 1);
      const short = createCache({ store: new TestStore(), ttl: '1m' });
      await short.set('call', 2, { ttl: Number.POSITIVE_INFINITY });
      await short.getOrSet('loader', async (ctx) => {
        ctx.setTtl('forever');
        return 3;
      });
      await short.flush();
      vi.setSystemTime(Date.now() + 100 * 365 * 24 * 3_600_000);
      expect(await cache.get('option')).toBe(1);
      expect(await short.getMany(['call', 'loader'])).toEqual([2, 3]);
      expect(await short.remainingTtl('call')).toBe(Number.POSITIVE_INFINITY);
      expect(await short.getEntry('loader')).toMatchObject({ expiresAt: Number.POSITIVE_INFINITY });
    } finally {
      vi.useRealTimers();
    }
  });

  test('other infinite or unreadable TTLs are rejected', () => {
    const store = new TestStore();
    expect(() => createCache({ store, ttl: Number.NEGATIVE_INFINITY })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createCache({ store, ttl: 'for ever' })).toThrow(/ttl/);
    expect(() => createCache({ store, grace: Number.POSITIVE_INFINITY })).toThrow(/grace/);
  });
});

describe('refresh-ahead with a batch loader', () => {
  test('refreshes that getOrSetMany starts in one tick are merged into one loader call', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', refresh: { ahead: 0.5 } });
    const batches: string[][] = [];
    const loader = async (keys: string[]) => {
      batches.push(keys);
      return keys.map((key) => `${key}:${batches.length}`);
    };
    await cache.getOrSetMany(['a', 'b', 'c'], loader);
    vi.advanceTimersByTime(31_000);
    const served = await cache.getOrSetMany(['a', 'b', 'c'], loader);
    expect(served.map((result) => (result as { value?: string }).value)).toEqual([
      'a:1',
      'b:1',
      'c:1',
    ]);
    await cache.flush();
    expect(batches).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
    expect(await cache.get('b')).toBe('b:2');
  });

  test('refreshes that a batched cached() function starts in one tick are one batch call', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const cache = createCache({ store: new TestStore(), ttl: '1m', refresh: { ahead: 0.5 } });
    const calls: number[][] = [];
    let round = 0;
    const find = cached(async (id: number) => ({ id, round }), {
      cache,
      name: 'find',
      batch: async (args: [number][]) => {
        calls.push(args.map(([id]) => id));
        round++;
        return args.map(([id]) => ({ id, round }));
      },
    });
    await Promise.all([1, 2, 3].map((id) => find(id)));
    vi.advanceTimersByTime(31_000);
    const served = await Promise.all([1, 2, 3].map((id) => find(id)));
    expect(served.map((user) => user.round)).toEqual([1, 1, 1]);
    await cache.flush();
    expect(calls).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect((await find(2)).round).toBe(2);
  });
});
