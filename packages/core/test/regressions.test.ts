// One test per defect found in @cache/core (issue 13); each failed on the code before its fix.
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  type CacheEntry,
  type CacheLock,
  type CacheStore,
  cached,
  createCache,
  exactClock,
  InvalidArgumentError,
  LoaderCycleError,
  LoaderError,
  LoaderTimeoutError,
  type LockHandle,
} from '../src/index.js';
import { deferred, openCircuitOverHungL2, TestStore } from './testStore.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('a write voids the loads in flight of its key', () => {
  test('writeThrough: the load in flight does not store its older value over the written one', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    const gate = deferred<string>();
    const loading = cache.getOrSet('user:1', () => gate.promise);
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.writeThrough('user:1', 'written', async () => 'saved');
    gate.resolve('loaded before the write');
    expect(await loading).toBe('loaded before the write');
    await cache.flush();
    expect(await cache.get('user:1')).toBe('written');
  });

  for (const [name, invalidate] of [
    ['delete()', (cache, _store) => cache.delete('user:1')],
    ['invalidateTags()', (cache, _store) => cache.invalidateTags(['users'])],
    [
      'a relayed invalidation',
      async (_cache, store) => store.receive({ type: 'delete', keys: ['user:1'] }),
    ],
  ] as [string, (cache: ReturnType<typeof createCache>, store: TestStore) => Promise<unknown>][]) {
    test(`a caller who comes after ${name} starts a new load instead of joining the voided one`, async () => {
      const store = new TestStore({ async: true });
      const cache = createCache({ store });
      const gate = deferred<string>();
      const first = cache.getOrSet('user:1', () => gate.promise, { tags: ['users'] });
      await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
      await invalidate(cache, store);
      const second = vi.fn(async () => 'loaded after');
      const after = cache.getOrSet('user:1', second, { tags: ['users'] });
      gate.resolve('loaded before');
      expect(await first).toBe('loaded before');
      expect(await after).toBe('loaded after');
      expect(second).toHaveBeenCalledTimes(1);
      await cache.flush();
      expect(await cache.get('user:1')).toBe('loaded after');
    });
  }
});

describe('grace backoff obeys the write barrier', () => {
  async function staleCache() {
    vi.useFakeTimers();
    const store = new TestStore({ async: true });
    const cache = createCache({ store, ttl: '1m', grace: '1h', graceBackoff: '10s' });
    await cache.set('k', 'old');
    vi.advanceTimersByTime(61_000);
    return { store, cache };
  }

  test('a set while the loader fails is not overwritten, and is served afterwards', async () => {
    const { cache } = await staleCache();
    const failure = deferred<string>();
    const failing = cache.getOrSet('k', () => failure.promise);
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.set('k', 'newer');
    failure.reject(new Error('db down'));
    expect(await failing).toBe('old');
    await cache.flush();
    expect(await cache.get('k')).toBe('newer');
    expect(await cache.getOrSet('k', async () => 'reloaded')).toBe('newer');
  });

  test('a delete while the loader fails is not undone', async () => {
    const { cache } = await staleCache();
    const failure = deferred<string>();
    const failing = cache.getOrSet('k', () => failure.promise);
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.delete('k');
    failure.reject(new Error('db down'));
    expect(await failing).toBe('old');
    await cache.flush();
    expect(await cache.get('k')).toBeUndefined();
    const loader = vi.fn(async () => 'reloaded');
    expect(await cache.getOrSet('k', loader)).toBe('reloaded');
    expect(loader).toHaveBeenCalledTimes(1);
  });

  test('values served during backoff are stale hits with reason backoff, not fresh hits', async () => {
    const { cache } = await staleCache();
    const reasons: string[] = [];
    cache.on('stale', (e) => reasons.push(e.reason));
    const failing = vi.fn(async () => Promise.reject(new Error('down')));
    expect(await cache.getOrSet('k', failing)).toBe('old');
    expect(await cache.getOrSet('k', failing)).toBe('old');
    expect(failing).toHaveBeenCalledTimes(1);
    expect(reasons).toEqual(['loader-error', 'backoff']);
    expect(cache.stats()).toMatchObject({ hits: 0, staleHits: 2 });
  });
});

describe('a loader that never settles', () => {
  const hung = () => new Promise<string>(() => {});

  test('does not hold its key past the hard timeout: the next caller runs a new loader', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), timeouts: { hard: 100 } });
    const first = cache.getOrSet('k', hung).catch((e) => e);
    await vi.advanceTimersByTimeAsync(101);
    expect(await first).toBeInstanceOf(LoaderTimeoutError);
    const next = vi.fn(async () => 'fresh');
    expect(await cache.getOrSet('k', next)).toBe('fresh');
    expect(next).toHaveBeenCalledTimes(1);
  });

  test('with a stale value: once grace is over, the next caller loads instead of getting stale', async () => {
    vi.useFakeTimers();
    const cache = createCache({
      store: new TestStore(),
      ttl: '1m',
      grace: '2m',
      timeouts: { soft: 50, hard: 100 },
    });
    await cache.set('k', 'old');
    vi.advanceTimersByTime(61_000);
    const first = cache.getOrSet('k', hung);
    await vi.advanceTimersByTimeAsync(101);
    expect(await first).toBe('old');
    vi.advanceTimersByTime(2 * 60_000);
    const next = vi.fn(async () => 'fresh');
    expect(await cache.getOrSet('k', next)).toBe('fresh');
    expect(next).toHaveBeenCalledTimes(1);
  });
});

describe('found by the model-based tests (test/model.test.ts)', () => {
  test.each([
    ['a clear', { type: 'clear' }],
    ["a clear of '' (everything, records included)", { type: 'clear', prefix: '' }],
  ] as const)(
    'a tagged entry read before %s removed the tag records is not served',
    async (_, message) => {
      const store = new TestStore({ async: true });
      const cache = createCache({ store });
      await cache.set('p:1', 'v1', { tags: ['blue'] });
      await cache.invalidateTags(['blue']);
      const resume = store.pause('get');
      const read = cache.getOrSet('p:1', async () => 'reloaded');
      resume();
      // Meanwhile another process clears everything: the tag record is gone, its message arrives.
      store.data.delete('__cache:tag:blue');
      store.receive({ ...message });
      expect(await read).toBe('reloaded');
    },
  );

  test('a caller who comes after the loaded value expired does not get it while it is being stored', async () => {
    vi.useFakeTimers();
    const store = new TestStore({ async: true });
    const cache = createCache({ store, ttl: 1_000 });
    const resume = store.pause('set');
    expect(await cache.getOrSet('k', async () => 'v1')).toBe('v1');
    vi.advanceTimersByTime(1_001);
    const loader = vi.fn(async () => 'v2');
    expect(await cache.getOrSet('k', loader)).toBe('v2');
    expect(loader).toHaveBeenCalledTimes(1);
    resume();
    await cache.flush();
  });

  test('a stale entry whose grace ends while its tags are checked is not served from backoff', async () => {
    vi.useFakeTimers();
    const store = new TestStore({ async: true });
    const cache = createCache({ store, ttl: 1_000, grace: 2_000, storeTimeout: false });
    await cache.set('k', 'v1', { tags: ['t'] });
    vi.advanceTimersByTime(1_100);
    expect(await cache.getOrSet('k', async () => Promise.reject(new Error('down')))).toBe('v1');
    // The tag records kept in process are dropped (a relayed pattern), so the next check reads them.
    store.receive({ type: 'pattern', pattern: 'other:*' });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const read = store.get.bind(store);
    store.get = (key: string) =>
      key.startsWith('__cache:') ? held.then(() => read(key)) : read(key);
    const answer = cache.getOrSet('k', async () => 'reloaded');
    await vi.advanceTimersByTimeAsync(0);
    vi.advanceTimersByTime(2_000);
    release();
    expect(await answer).toBe('reloaded');
  });

  test('a stale value whose grace ends before its callers get it is not served', async () => {
    vi.useFakeTimers();
    const cache = createCache({
      store: new TestStore(),
      ttl: 1_000,
      grace: 2_000,
      timeouts: { hard: 1_500 },
    });
    await cache.set('k', 'v1');
    vi.advanceTimersByTime(1_100);
    const started = deferred<void>();
    const answer = cache.getOrSet('k', () => {
      started.resolve();
      return new Promise<string>(() => {});
    });
    await started.promise;
    // The hard timeout fires within grace (at 2.6 s), its callers run past it (3.6 s).
    vi.advanceTimersByTime(2_500);
    await expect(answer).rejects.toBeInstanceOf(LoaderTimeoutError);
  });
});

// A loader answering `answer`, counting its calls and the most running at once.
function countingLoader<T>(answer: Promise<T>) {
  const calls = { total: 0, most: 0 };
  let running = 0;
  const load = async () => {
    calls.total++;
    calls.most = Math.max(calls.most, ++running);
    try {
      return await answer;
    } finally {
      running--;
    }
  };
  return { load, calls };
}

describe('found by the model-based tests, seed -2022505942 (C3)', () => {
  test('a refresh whose read a delete voided does not call the loader beside the next load', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store, ttl: '1m', refresh: { ahead: 0.5 } });
    // Past the refresh threshold: a hit refreshes it.
    store.data.set('k', { value: 'old', expiresAt: Date.now() + 10_000 });
    const gate = deferred<string>();
    const { load: loader, calls } = countingLoader(gate.promise);
    // The first read finds the old entry, but answers only after a delete of the key.
    const found = deferred<CacheEntry | undefined>();
    const get = store.get.bind(store);
    store.get = (_key: string) => {
      store.get = get;
      return found.promise;
    };
    const first = cache.getOrSetMany(['k'], async (keys) => Promise.all(keys.map(loader)));
    await cache.delete('k');
    found.resolve({ value: 'old', expiresAt: Date.now() + 10_000 });
    // It began before the delete resolved: the old value may be its answer. Its refresh (due)
    // reads for nobody now: the delete voided it.
    expect(await first).toEqual([{ status: 'fulfilled', value: 'old' }]);
    const second = cache.getOrSet('k', loader); // a miss: loads
    await new Promise((resolve) => setImmediate(resolve));
    gate.resolve('new');
    expect(await second).toBe('new');
    await cache.flush();
    expect(calls).toEqual({ total: 1, most: 1 });
  });
});

describe('found by the model-based tests, seed 899508998 (C3)', () => {
  test('a batch load a tag invalidation made unjoinable joins the newer load instead of calling the loader beside it', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store, ttl: '1m' });
    await cache.set('u:1', 'v1', { tags: ['blue'] });
    await cache.set('u:2', 'v2');
    const gate = deferred<string>();
    const { load, calls } = countingLoader(gate.promise);
    // The batch's read of u:1 answers only after the invalidation of its tag.
    const found = deferred<CacheEntry | undefined>();
    const entry = await store.get('u:1');
    const get = store.get.bind(store);
    store.get = (key: string) => {
      if (key !== 'u:1') return get(key);
      store.get = get;
      return found.promise;
    };
    const many = cache.getOrSetMany(['u:1', 'u:2'], (keys) => Promise.all(keys.map(load)));
    await cache.invalidateTags(['blue']);
    found.resolve(entry);
    // u:1 asks the batch loader (u:2 was fresh: the call goes out on the next turn); meanwhile
    // a getOrSet of u:1 starts its own load, as the batch's is no longer joinable.
    for (let i = 0; i < 50; i++) await Promise.resolve();
    const single = cache.getOrSet('u:1', load);
    for (let i = 0; i < 50; i++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    gate.resolve('new');
    expect(await single).toBe('new');
    expect(await many).toEqual([
      { status: 'fulfilled', value: 'new' },
      { status: 'fulfilled', value: 'v2' },
    ]);
    expect(calls).toEqual({ total: 1, most: 1 });
  });
});

describe('found by review', () => {
  test('a caller who comes after a soft-timeout answer once grace is over waits at most until the hard timeout', async () => {
    vi.useFakeTimers();
    const cache = createCache({
      store: new TestStore(),
      grace: 150,
      timeouts: { soft: 50, hard: 1_000 },
    });
    await cache.set('k', 'old', { ttl: 100 });
    await vi.advanceTimersByTimeAsync(150);
    const first = cache.getOrSet('k', () => new Promise<string>(() => {}));
    await vi.advanceTimersByTimeAsync(60);
    expect(await first).toBe('old');
    await vi.advanceTimersByTimeAsync(100);
    const later = cache.getOrSet('k', async () => 'new').catch((e) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await later).toBeInstanceOf(LoaderTimeoutError);
  });

  test('a failing tag read no answer needs does not reject unhandled', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    await cache.set('k', 'v', { tags: ['a', 'b'] });
    await cache.invalidateTags(['b']);
    store.receive({ type: 'delete', keys: ['__cache:tag:a'] });
    const read = store.get.bind(store);
    store.get = (key: string) =>
      key === '__cache:tag:a' ? Promise.reject(new Error('tag read failed')) : read(key);
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      expect(await cache.get('k')).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  test('a hit is counted once when someone listens to hit events', async () => {
    const cache = createCache({ store: new TestStore() });
    cache.on('hit', () => {});
    await cache.set('k', 1);
    await cache.getOrSet('k', () => 2);
    expect(cache.stats().hits).toBe(1);
  });

  test('an answer the store gives at once does not close a circuit opened by timeouts', async () => {
    vi.useFakeTimers();
    const cache = await openCircuitOverHungL2((ms) => vi.advanceTimersByTimeAsync(ms));
    expect(await cache.get('hot')).toBe('from L1');
    // Still open: a miss does not wait for the hung store.
    expect(await cache.getOrSet('cold', async () => 'at once')).toBe('at once');
  });
});

describe('core decides freshness itself', () => {
  test('an entry without grace that the store returns a little late is a miss, not a stale value', async () => {
    const late: CacheEntry = { value: 'expired', expiresAt: Date.now() - 10 };
    const store: CacheStore = {
      name: 'late',
      get: async () => late,
      set: async () => {},
      delete: async () => true,
      clear: async () => {},
    };
    const stale = vi.fn();
    const cache = createCache({ store, timeouts: { soft: 1 } });
    cache.on('stale', stale);
    const loader = vi.fn(async (ctx: { stale: unknown }) => {
      expect(ctx.stale).toBeUndefined();
      throw new Error('down');
    });
    await expect(cache.getOrSet('k', loader)).rejects.toBeInstanceOf(LoaderError);
    expect(await cache.get('k')).toBeUndefined();
    expect(stale).not.toHaveBeenCalled();
  });
});

describe('one clock', () => {
  test('an injected clock decides expiry', async () => {
    let now = Date.now();
    const cache = createCache({ store: new TestStore(), ttl: 1_000, clock: { now: () => now } });
    await cache.set('k', 'v');
    now += 999;
    expect(await cache.getOrSet('k', async () => 'reloaded')).toBe('v');
    now += 2;
    expect(await cache.getOrSet('k', async () => 'reloaded')).toBe('reloaded');
  });

  test('with exactClock, an entry that expired during a CPU-bound stretch is not a hit', async () => {
    // With grace the store keeps the entry past its TTL, so only core's clock can tell.
    const cache = createCache({ store: new TestStore(), ttl: 20, grace: '1m', clock: exactClock });
    await cache.set('k', 'v');
    // Reads the clock (and on a slow machine may already reload the same value).
    await cache.getOrSet('k', async () => 'v');
    const until = Date.now() + 40;
    while (Date.now() < until) {
      // A synchronous stretch: no timer runs meanwhile.
    }
    const answer = cache.getOrSet('k', async () => 'reloaded');
    expect(await answer).toBe('reloaded');
  });

  test('an entry written right after a long synchronous stretch counts its TTL from the real time', async () => {
    const store = new TestStore();
    const cache = createCache({ store, ttl: 1_000 });
    await cache.set('warm', 1);
    expect(await cache.getOrSet('warm', async () => 2)).toBe(1); // the hit reads the clock
    const until = Date.now() + 50;
    while (Date.now() < until) {
      // A synchronous stretch: the clock's reading is not renewed meanwhile.
    }
    const before = Date.now();
    await cache.set('k', 'v');
    expect((store.data.get('k') as CacheEntry).expiresAt).toBeGreaterThanOrEqual(before + 1_000);
  });

  test('fake timers installed before core was loaded drive its clock', async () => {
    vi.useFakeTimers();
    vi.resetModules();
    const core = (await import('../src/index.js')) as typeof import('../src/index.js');
    const cache = core.createCache({ store: new TestStore(), ttl: '1m', grace: '1h' });
    await cache.set('k', 'v');
    expect(await cache.getOrSet('k', async () => 'reloaded')).toBe('v');
    vi.setSystemTime(Date.now() + 61_000);
    expect(await cache.getOrSet('k', async () => 'reloaded')).toBe('reloaded');
  });
});

describe('the reserved prefix', () => {
  test("deletePattern('*:123:*') at the root keeps tag records: invalidated entries stay invalidated", async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.set('profile', 'old', { tags: ['user:123:profile'] });
    await cache.invalidateTags(['user:123:profile']);
    await cache.deletePattern('*:123:*');
    expect(await cache.get('profile')).toBeUndefined();
    const other = createCache({ store: new TestStore({}, (cache.store as TestStore).data) });
    expect(await other.get('profile')).toBeUndefined();
  });

  test('a namespace cannot reach into it', () => {
    const cache = createCache({ store: new TestStore() });
    expect(() => cache.namespace('__cache')).toThrow(InvalidArgumentError);
    expect(() => cache.namespace('__cache:tag')).toThrow(InvalidArgumentError);
    expect(() => createCache({ store: new TestStore(), namespace: '__cache' })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('bad input', () => {
  test('a loader that asks for its own key rejects with LoaderCycleError instead of waiting forever', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const outer = cache.getOrSet('k', () => cache.getOrSet('k', async () => 'inner'));
    const error = await outer.catch((e) => e);
    expect(error).toBeInstanceOf(LoaderError);
    expect(error.cause).toBeInstanceOf(LoaderCycleError);
  });

  test('keys with lone surrogates are rejected: Redis would store them as one key', async () => {
    const cache = createCache({ store: new TestStore() });
    for (const key of ['user:\uD800', 'user:\uDC00']) {
      await expect(cache.set(key, 1)).rejects.toMatchObject({ argument: 'key' });
      await expect(cache.get(key)).rejects.toMatchObject({ argument: 'key' });
      await expect(cache.getOrSet(key, () => 1)).rejects.toMatchObject({ argument: 'key' });
      await expect(cache.delete(key)).rejects.toMatchObject({ argument: 'key' });
    }
    expect(await cache.set('user:\uFFFD', 1)).toBe(true);
  });

  test('a timeout above 2^31-1 ms is rejected instead of firing at once', async () => {
    expect(() => createCache({ store: new TestStore(), timeouts: { hard: '25d' } })).toThrow(
      expect.objectContaining({ argument: 'timeouts.hard' }),
    );
    const cache = createCache({ store: new TestStore() });
    await expect(
      cache.getOrSet('k', () => 1, { timeouts: { soft: 2 ** 31 } }),
    ).rejects.toMatchObject({ argument: 'timeouts.soft' });
  });

  test('a store answering null makes getOrSet reject with E_STORE_CONTRACT, not throw', async () => {
    const store: CacheStore = {
      name: 'broken',
      get: () => null as never,
      set: () => {},
      delete: () => false,
      clear: () => {},
    };
    const cache = createCache({ store });
    let answer: Promise<unknown> | undefined;
    expect(() => {
      answer = cache.getOrSet('k', () => 1);
    }).not.toThrow();
    await expect(answer).rejects.toMatchObject({ code: 'E_STORE_CONTRACT', store: 'broken' });
  });

  test('cached(): two functions of one name do not share keys, and names cannot hold ":"', () => {
    const cache = createCache({ store: new TestStore() });
    const users = { find: async (id: number) => ({ user: id }) };
    const orders = { find: async (id: number) => ({ order: id }) };
    cached(users.find, { cache });
    expect(() => cached(orders.find, { cache })).toThrow(InvalidArgumentError);
    expect(() => cached(orders.find, { cache, keyPrefix: 'orders' })).not.toThrow();
    expect(() => cached(orders.find, { cache, name: 'a:b' })).toThrow(InvalidArgumentError);
  });
});

describe('stats', () => {
  test('a miss under a shared lock counts once', async () => {
    const lock: CacheLock = {
      acquire: async (): Promise<LockHandle> => ({ release: async () => {} }),
    };
    const cache = createCache({ store: new TestStore({ async: true }), lock });
    await cache.getOrSet('k', async () => 1);
    expect(cache.stats()).toMatchObject({ misses: 1, loads: 1 });
  });
});

describe('the lock lease', () => {
  // A lock that answers after `delay` ms whatever the signal says, counting renewals.
  function slowLock(delay: number) {
    const counts = { extends: 0, releases: 0 };
    const lock: CacheLock = {
      async acquire() {
        await new Promise((resolve) => setTimeout(resolve, delay));
        return {
          release: async () => {
            counts.releases++;
          },
          extend: async () => {
            counts.extends++;
            return true;
          },
        };
      },
    };
    return { lock, counts };
  }

  test('a lock that arrives after the hard timeout is not renewed while the loader hangs', async () => {
    const { lock, counts } = slowLock(150);
    const cache = createCache({
      store: new TestStore(),
      lock,
      lockTtl: 60,
      timeouts: { hard: 50 },
    });
    await expect(cache.getOrSet('k', () => new Promise<never>(() => {}))).rejects.toMatchObject({
      code: 'E_LOADER_TIMEOUT',
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(counts.extends).toBe(0);
  });
});
