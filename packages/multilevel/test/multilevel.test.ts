import {
  type CacheEntry,
  type CacheStore,
  createCache,
  defaultSerializer,
  type InvalidationBus,
  type InvalidationMessage,
  StoreError,
} from '@cache/core';
import { memoryStore } from '@cache/memory';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { multilevel } from '../src/index.js';

const entry = (value: unknown, ttl = 60_000): CacheEntry => ({
  value,
  expiresAt: Date.now() + ttl,
});

// A tier that can be switched off, like a store whose server died.
function breakable(store: CacheStore): CacheStore & { down: boolean } {
  const tier = {
    name: `breakable-${store.name}`,
    down: false,
    get: (k: string) => guard(() => store.get(k)),
    set: (k: string, e: CacheEntry) => guard(() => store.set(k, e)),
    delete: (k: string) => guard(() => store.delete(k)),
    clear: (p?: string) => guard(() => store.clear(p)),
  };
  async function guard<T>(run: () => T | Promise<T>): Promise<T> {
    if (tier.down) throw new StoreError(tier.name, 'connection refused');
    return run();
  }
  return tier;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('multilevel reads', () => {
  test('answer from L1 synchronously when it holds a fresh entry', () => {
    const l1 = memoryStore();
    const store = multilevel({ tiers: [l1, memoryStore()] });
    l1.set('k', entry('v'));
    const found = store.get('k');
    expect(found).not.toBeInstanceOf(Promise);
    expect((found as CacheEntry).value).toBe('v');
  });

  test('fall through to L2 and backfill L1', async () => {
    const l1 = memoryStore();
    const l2 = memoryStore();
    const store = multilevel({ tiers: [l1, l2] });
    await l2.set('k', entry('from l2'));
    expect((await store.get('k'))?.value).toBe('from l2');
    expect(l1.get('k')?.value).toBe('from l2');
    expect(store.stats()).toMatchObject({ hits: [0, 1], backfills: 1 });
  });

  test('with three tiers, a hit in L3 backfills L1 and L2', async () => {
    const [l1, l2, l3] = [memoryStore(), memoryStore(), memoryStore()];
    const store = multilevel({ tiers: [l1, l2, l3] });
    await l3.set('k', entry(3));
    expect((await store.get('k'))?.value).toBe(3);
    expect(l1.get('k')?.value).toBe(3);
    expect(l2.get('k')?.value).toBe(3);
  });

  test('prefer a fresh entry below over a stale one in L1', async () => {
    const l1 = memoryStore();
    const l2 = memoryStore();
    const store = multilevel({ tiers: [l1, l2] });
    l1.set('k', { value: 'stale', expiresAt: Date.now() - 1_000, staleUntil: Date.now() + 60_000 });
    await l2.set('k', entry('fresh'));
    expect((await store.get('k'))?.value).toBe('fresh');
  });

  test('return a stale entry when no tier has a fresh one, so grace still works', async () => {
    const store = multilevel({ tiers: [memoryStore(), memoryStore()] });
    await store.set('k', {
      value: 'old',
      expiresAt: Date.now() - 1_000,
      staleUntil: Date.now() + 60_000,
    });
    expect((await store.get('k'))?.value).toBe('old');
  });

  test('when every tier is stale, serve the copy with the longest grace, not the capped L1 copy', async () => {
    const l1 = memoryStore();
    const l2 = memoryStore();
    const store = multilevel({ tiers: [l1, l2], l1Ttl: '1m' });
    const now = Date.now();
    await store.set('k', { value: 'v', expiresAt: now - 1_000, staleUntil: now + 3_600_000 });
    expect(l1.get('k')?.staleUntil).toBeLessThanOrEqual(now + 60_000 + 50);
    expect((await store.get('k'))?.staleUntil).toBe(now + 3_600_000);
    expect((await store.getMany(['k']))[0]?.staleUntil).toBe(now + 3_600_000);
  });

  test('getMany asks each tier only for what the faster tiers missed', async () => {
    const l1 = memoryStore();
    const l2 = memoryStore();
    const getMany = vi.spyOn(l2, 'getMany');
    const store = multilevel({ tiers: [l1, l2] });
    l1.set('a', entry('a1'));
    await l2.set('b', entry('b2'));
    expect((await store.getMany(['a', 'b', 'c'])).map((e) => e?.value)).toEqual([
      'a1',
      'b2',
      undefined,
    ]);
    expect(getMany).toHaveBeenCalledWith(['b', 'c']);
    expect(l1.get('b')?.value).toBe('b2');
  });
});

describe('multilevel writes', () => {
  test('reach every tier; delete and clear too', async () => {
    const [l1, l2, l3] = [memoryStore(), memoryStore(), memoryStore()];
    const store = multilevel({ tiers: [l1, l2, l3] });
    await store.set('user:1', entry('a'));
    await store.setMany([['user:2', entry('b')]]);
    for (const tier of [l1, l2, l3]) expect(tier.get('user:1')?.value).toBe('a');
    expect(await store.delete('user:1')).toBe(true);
    for (const tier of [l1, l2, l3]) expect(tier.get('user:1')).toBeUndefined();
    await store.clear('user:');
    for (const tier of [l1, l2, l3]) expect(tier.get('user:2')).toBeUndefined();
  });

  test('cap how long L1 keeps an entry, while L2 keeps it for its whole TTL', async () => {
    vi.useFakeTimers();
    const l1 = memoryStore();
    const l2 = memoryStore();
    const cache = createCache({ store: multilevel({ tiers: [l1, l2], l1Ttl: '1m' }), ttl: '1h' });
    const loader = vi.fn(async () => 'value');
    await cache.getOrSet('k', loader);
    expect(l1.get('k')?.staleUntil).toBe(Date.now() + 60_000);
    vi.advanceTimersByTime(61_000);
    expect(l1.get('k')).toBeUndefined();
    expect(l2.get('k')?.value).toBe('value');
    expect(await cache.getOrSet('k', loader)).toBe('value');
    expect(loader).toHaveBeenCalledTimes(1);
    expect(l1.get('k')?.value).toBe('value');
  });
});

describe('a failing tier', () => {
  test('does not fail a read another tier can answer', async () => {
    const l2 = breakable(memoryStore());
    const store = multilevel({ tiers: [memoryStore(), l2] });
    const errors = vi.fn();
    store.on('error', errors);
    await store.set('k', entry('v'));
    l2.down = true;
    expect((await store.get('k'))?.value).toBe('v');
    expect(await store.get('missing')).toBeUndefined();
    expect(errors).toHaveBeenCalledWith(expect.objectContaining({ tier: 1, operation: 'get' }));
    expect(store.stats().tierErrors).toEqual([0, 1]);
  });

  test('does not fail a read of a user key that only contains the reserved prefix', async () => {
    // Only the cache's own records (keys starting with `__cache:`) are unknown rather than absent.
    const l2 = breakable(memoryStore());
    const store = multilevel({ tiers: [memoryStore(), l2] });
    store.on('error', () => {});
    l2.down = true;
    expect(await store.get('user:__cache:1')).toBeUndefined();
    expect(await store.getMany(['user:__cache:1'])).toEqual([undefined]);
    await expect(store.get('__cache:tag:t')).rejects.toMatchObject({ code: 'E_TIER_FAILED' });
  });

  test('lets createCache fall back to the loader and report the dropped write', async () => {
    const l1 = breakable(memoryStore());
    const l2 = breakable(memoryStore());
    const cache = createCache({ store: multilevel({ tiers: [l1, l2] }) });
    const errors = vi.fn();
    cache.on('error', errors);
    l1.down = true;
    l2.down = true;
    expect(await cache.getOrSet('k', async () => 'from loader')).toBe('from loader');
    await cache.flush();
    expect(cache.stats()).toMatchObject({ droppedWrites: 1 });
    l2.down = false;
    expect(await cache.set('k', 'v')).toBe(false);
    expect(errors.mock.calls.at(-1)![0].error).toMatchObject({ code: 'E_TIER_FAILED' });
    expect(await l2.get('k')).toMatchObject({ value: 'v' });
  });

  test('that fails at once while a slower tier writes: the write rejects once both answered, and no rejection goes unhandled', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const l1 = memoryStore();
      let landSlow!: () => void;
      const slow: CacheStore = {
        name: 'slow',
        get: () => undefined,
        set: () => new Promise<void>((resolve) => (landSlow = resolve)),
        delete: async () => false,
        clear: async () => {},
      };
      const failing = breakable(memoryStore());
      failing.down = true;
      const store = multilevel({ tiers: [l1, slow, failing] });
      store.on('error', () => {});
      let settled = false;
      const written = store.set('k', entry('v')).finally(() => {
        settled = true;
      });
      // The failing tier's rejection waits, unhandled by anyone but the store, across turns of
      // the event loop.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settled).toBe(false);
      landSlow();
      await expect(written).rejects.toMatchObject({ code: 'E_TIER_FAILED' });
      expect(l1.get('k')?.value).toBe('v');
      expect(store.stats().tierErrors).toEqual([0, 0, 1]);
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

describe('tag records', () => {
  test('with no shared tier, outlive recordTtl: an entry a tag voided stays void', async () => {
    vi.useFakeTimers();
    const l1 = memoryStore();
    const cache = createCache({ store: multilevel({ tiers: [l1] }), ttl: '1h' });
    await cache.set('k', 'v', { tags: ['t'] });
    expect(await cache.invalidateTags(['t'])).toBe(true);
    vi.advanceTimersByTime(6_000); // past recordTtl (5 s), well within the entry's hour
    expect(await cache.get('k')).toBeUndefined();
  });
});

describe('serialization', () => {
  test('L1 keeps live values while a serializing tier below stores text', async () => {
    const l1 = memoryStore();
    const l2 = memoryStore({ clone: true });
    const cache = createCache({
      store: multilevel({ tiers: [l1, l2] }),
      serializer: defaultSerializer,
    });
    const value = { at: new Date(0), ids: new Set([1, 2]) };
    await cache.set('k', value);
    expect(l1.get('k')?.value).toBe(value);
    const copy = l2.withSerializer!(defaultSerializer).get('k') as CacheEntry;
    expect(copy.value).toEqual(value);
    expect(copy.value).not.toBe(value);
  });
});

describe('options', () => {
  test('reject bad tiers and caps naming the option', () => {
    expect(() => multilevel({ tiers: [] })).toThrow(expect.objectContaining({ argument: 'tiers' }));
    expect(() => multilevel({ tiers: [memoryStore(), {} as CacheStore] })).toThrow(
      expect.objectContaining({ argument: 'tiers[1]' }),
    );
    expect(() => multilevel({ tiers: [memoryStore()], l1Ttl: -1 })).toThrow(
      expect.objectContaining({ argument: 'l1Ttl' }),
    );
  });
});

// Carries messages between multilevel stores of one process, as redisBus does between processes.
function localBus(): () => InvalidationBus {
  const handlers = new Set<(message: InvalidationMessage) => void>();
  return () => {
    let own: ((message: InvalidationMessage) => void) | undefined;
    return {
      publish: async (message) => {
        for (const handler of handlers) if (handler !== own) handler(message);
      },
      subscribe: async (handler) => {
        own = handler;
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
      on: () => () => {},
    };
  };
}

describe('bus races', () => {
  test('an eviction during a read from L2 keeps the old copy out of L1', async () => {
    const bus = localBus();
    const l2 = memoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const readStarted = new Promise<void>((resolve) => (started = resolve));
    const slowL2: CacheStore = {
      ...l2,
      name: 'slow',
      get: async (key) => {
        const found = l2.get(key);
        started();
        await gate;
        return found;
      },
      set: (k, e) => l2.set(k, e),
      delete: (k) => l2.delete(k),
      clear: (p) => l2.clear(p),
    };
    const a = multilevel({ tiers: [memoryStore(), l2], bus: bus() });
    const bL1 = memoryStore();
    const b = multilevel({ tiers: [bL1, slowL2], bus: bus() });
    await a.set('k', entry('old'));
    const reading = b.get('k');
    await readStarted;
    await a.delete('k');
    release();
    expect((await reading)?.value).toBe('old');
    expect(bL1.get('k')).toBeUndefined();
  });

  test('a write or delete that fails on a tier is still published: other processes drop their copy', async () => {
    const bus = localBus();
    const l2 = memoryStore();
    const broken = breakable(l2);
    const a = multilevel({ tiers: [memoryStore(), broken], bus: bus() });
    const bL1 = memoryStore();
    const b = multilevel({ tiers: [bL1, l2], bus: bus() });
    await a.set('k', entry('old'));
    await a.set('j', entry('old'));
    expect((await b.get('k'))?.value).toBe('old');
    expect((await b.get('j'))?.value).toBe('old');
    expect(bL1.get('k')?.value).toBe('old');
    broken.down = true;
    await expect(a.delete('k')).rejects.toMatchObject({ code: 'E_TIER_FAILED' });
    await expect(a.set('j', entry('new'))).rejects.toMatchObject({ code: 'E_TIER_FAILED' });
    expect(bL1.get('k')).toBeUndefined();
    expect(bL1.get('j')).toBeUndefined();
  });

  // Under fake timers: `key` held 'old' in both tiers, and its delete failed on L2 (down).
  async function deleteFailedOnL2(key: string) {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const l2 = memoryStore();
    const broken = breakable(l2);
    const a = multilevel({ tiers: [memoryStore(), broken] });
    await a.set(key, entry('old'));
    broken.down = true;
    await expect(a.delete(key)).rejects.toMatchObject({ code: 'E_TIER_FAILED' });
    return { a, l2, broken };
  }

  test('a write that timed out on the shared tier is repaired at its next answer, not 100 ms later', async () => {
    const { a, l2, broken } = await deleteFailedOnL2('k');
    broken.down = false; // one call failed; the next is answered
    await vi.advanceTimersByTimeAsync(1);
    expect(await a.get('elsewhere')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(l2.get('k')).toBeUndefined();
  });

  test('a failed delete of a user key holding "__cache:" after its start is repaired like any other', async () => {
    const key = 'page:/search?q=__cache:x'; // only a leading `__cache:` is the cache's own
    const { l2, broken } = await deleteFailedOnL2(key);
    broken.down = false;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(l2.get(key)).toBeUndefined();
  });

  test('a repair that waited out an outage runs as soon as the shared tier answers, not after its backoff', async () => {
    const { a, l2, broken } = await deleteFailedOnL2('k');
    // Repairs fail 100, 200, 400, 800 and 1,600 ms apart: the next one waits 3.2 s (an answer may
    // hurry it once a quarter of that has passed).
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 1_600 + 850);
    expect(a.stats().pendingRepairs).toBe(1);
    expect(l2.get('k')?.value).toBe('old');
    broken.down = false;
    expect(await a.get('elsewhere')).toBeUndefined(); // the shared tier answers again
    await vi.advanceTimersByTimeAsync(20); // far less than the backoff left
    expect(l2.get('k')).toBeUndefined();
    expect(a.stats().pendingRepairs).toBe(0);
  });

  test('the deletes of one tick reach other processes as one message, and each write waits for it', async () => {
    const published: InvalidationMessage[] = [];
    const bus: InvalidationBus = {
      publish: async (message) => {
        published.push(message);
      },
      subscribe: async () => () => {},
      on: () => () => {},
    };
    const store = multilevel({ tiers: [memoryStore()], bus });
    await Promise.all([
      store.set('a', entry('a')),
      store.delete('b'),
      store.setMany([['c', entry('c')]]),
    ]);
    expect(published).toEqual([{ type: 'delete', keys: ['a', 'b', 'c'] }]);
    await store.set('d', entry('d'));
    expect(published).toHaveLength(2);
  });

  test('only a store with a bus offers subscribe, and a reconnect is relayed as a clear', async () => {
    expect(multilevel({ tiers: [memoryStore()] }).subscribe).toBeUndefined();
    let reconnect!: () => void;
    const bus: InvalidationBus = {
      publish: async () => {},
      subscribe: async () => () => {},
      on: (event, listener) => {
        if (event === 'reconnect') reconnect = listener;
        return () => {};
      },
    };
    const store = multilevel({ tiers: [memoryStore()], bus });
    const seen: InvalidationMessage[] = [];
    store.subscribe!((message) => seen.push(message));
    reconnect();
    expect(seen).toEqual([{ type: 'clear' }]);
  });
});

describe("the cache's own records", () => {
  test('a relayed pattern or prefix clear leaves them in the local tiers of other processes', async () => {
    const bus = localBus();
    const l2 = memoryStore();
    const a = multilevel({ tiers: [memoryStore(), l2], bus: bus() });
    const bL1 = memoryStore();
    multilevel({ tiers: [bL1, l2], bus: bus() });
    const record = '__cache:tag:user:123:x';
    for (const key of [record, 'user:123:profile', '_x', 'user:1']) bL1.set(key, entry(key));
    await a.deletePattern('*:123:*');
    expect(bL1.get('user:123:profile')).toBeUndefined();
    await a.clear('_');
    expect(bL1.get('_x')).toBeUndefined();
    await a.deletePattern('*');
    expect(bL1.get('user:1')).toBeUndefined();
    expect(bL1.get(record)?.value).toBe(record);
  });
});
