import { afterEach, describe, expect, test, vi } from 'vitest';
import { type CacheEntry, type CacheEvents, type CacheStore, createCache } from '../src/index.js';
import { deferred, openCircuitOverHungL2, TestStore } from './testStore.js';

afterEach(() => {
  vi.useRealTimers();
});

// A store whose calls never answer, like a Keyv adapter over a hung connection.
function hungStore(): CacheStore & { calls: number } {
  const never = () => {
    store.calls++;
    return new Promise<never>(() => {});
  };
  const store = {
    name: 'hung',
    calls: 0,
    get: never,
    set: never,
    delete: never,
    clear: never,
  };
  return store;
}

describe('no store call can hang the cache', () => {
  test('getOrSet over a store whose get never answers loads after storeTimeout', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: hungStore(), storeTimeout: '200ms' });
    const errors: CacheEvents['error'][] = [];
    cache.on('error', (e) => errors.push(e));
    const answer = cache.getOrSet('k', async () => 'from db');
    await vi.advanceTimersByTimeAsync(201);
    expect(await answer).toBe('from db');
    expect(errors[0]).toMatchObject({ operation: 'get', dropped: false });
    expect(errors[0]!.error).toMatchObject({ code: 'E_STORE_TIMEOUT', store: 'hung' });
  });

  test('even under timeouts.hard, which bounds the loader only', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: hungStore(), timeouts: { hard: '5s' } });
    const answer = cache.getOrSet('k', async () => 'from db');
    await vi.advanceTimersByTimeAsync(2_001);
    expect(await answer).toBe('from db');
  });

  test('writes to a hung store resolve false after storeTimeout and count as dropped', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: hungStore(), storeTimeout: 100 });
    const results = [cache.set('k', 1), cache.delete('k'), cache.setMany([['a', 1]])];
    await vi.advanceTimersByTimeAsync(101);
    expect(await Promise.all(results)).toEqual([false, false, false]);
    expect(cache.stats()).toMatchObject({ droppedWrites: 3 });
  });

  test('a store that answers after storeTimeout is reported once: the timeout, not its late answer too', async () => {
    vi.useFakeTimers();
    const late = <T>(settle: (resolve: (v: T) => void, reject: (e: Error) => void) => void) =>
      new Promise<T>((resolve, reject) => {
        setTimeout(() => settle(resolve, reject), 500);
      });
    const store: CacheStore = {
      name: 'late',
      get: () => late((_, reject) => reject(new Error('connection reset'))),
      set: () => late((_, reject) => reject(new Error('connection reset'))),
      delete: () => late((resolve) => resolve(true)),
      clear: () => late((resolve) => resolve(undefined)),
    };
    const cache = createCache({ store, storeTimeout: 100 });
    const errors: CacheEvents['error'][] = [];
    cache.on('error', (e) => errors.push(e));
    const answers = [cache.get('k'), cache.set('k', 1), cache.delete('k')];
    await vi.advanceTimersByTimeAsync(101);
    expect(await Promise.all(answers)).toEqual([undefined, false, false]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors.map((e) => [e.operation, (e.error as { code?: string }).code])).toEqual([
      ['get', 'E_STORE_TIMEOUT'],
      ['set', 'E_STORE_TIMEOUT'],
      ['delete', 'E_STORE_TIMEOUT'],
    ]);
    expect(cache.stats()).toMatchObject({ droppedWrites: 2 });
  });

  test('after 5 timeouts in a row the circuit opens: the cache waits for no answer, then probes', async () => {
    vi.useFakeTimers();
    const store = hungStore();
    const cache = createCache({
      store,
      storeTimeout: 100,
      circuitBreaker: { failures: 5, cooldown: '1s' },
    });
    const reads = Array.from({ length: 5 }, (_, i) => cache.get(`k${i}`));
    await vi.advanceTimersByTimeAsync(101);
    expect(await Promise.all(reads)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e.error));
    // No timer runs: the answer comes at once.
    expect(await cache.getOrSet('k', async () => 'loaded at once')).toBe('loaded at once');
    expect(errors[0]).toMatchObject({ code: 'E_STORE_UNAVAILABLE' });
    // After the cooldown one call waits for the store again, and its timeout keeps it open.
    vi.advanceTimersByTime(1_001);
    let probed = false;
    const probe = cache.get('probe').then(() => (probed = true));
    await vi.advanceTimersByTimeAsync(50);
    expect(probed).toBe(false);
    await vi.advanceTimersByTimeAsync(51);
    await probe;
    expect(await cache.getOrSet('k2', async () => 'at once again')).toBe('at once again');
  });

  test('while the circuit is open, what the store answers at once (an L1 hit) is still served', async () => {
    vi.useFakeTimers();
    const cache = await openCircuitOverHungL2((ms) => vi.advanceTimersByTimeAsync(ms));
    expect(await cache.getOrSet('hot', async () => 'from db')).toBe('from L1');
    expect(await cache.getOrSet('cold', async () => 'from db')).toBe('from db');
  });

  test('a store that fails at once does not open the circuit: it is used again as soon as it answers', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store, circuitBreaker: { failures: 2 } });
    store.down = true;
    for (let i = 0; i < 10; i++) await cache.get('k');
    store.down = false;
    expect(await cache.set('k', 'back')).toBe(true);
    expect(await cache.get('k')).toBe('back');
  });

  test('storeTimeout and circuitBreaker are checked like every option', () => {
    const store = new TestStore();
    expect(() => createCache({ store, storeTimeout: -1 })).toThrow(
      expect.objectContaining({ argument: 'storeTimeout' }),
    );
    expect(() => createCache({ store, circuitBreaker: { failures: 0 } })).toThrow(
      expect.objectContaining({ argument: 'circuitBreaker.failures' }),
    );
    expect(() => createCache({ store, storeTimeout: false, circuitBreaker: false })).not.toThrow();
  });
});

describe('a miss does not wait for the store write', () => {
  test('getOrSet answers once the loader resolves; the write goes on in the background', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    const resume = store.pause('set');
    expect(await cache.getOrSet('k', async () => 'loaded')).toBe('loaded');
    expect(store.data.has('k')).toBe(false);
    expect(cache.stats().pendingWrites).toBe(1);
    resume();
    await cache.flush();
    expect(store.data.has('k')).toBe(true);
    expect(cache.stats()).toMatchObject({ pendingWrites: 0, sets: 1 });
  });

  test('until the value is stored, later callers get it without a second load', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    const resume = store.pause('set');
    const loader = vi.fn(async () => 'loaded once');
    expect(await cache.getOrSet('k', loader)).toBe('loaded once');
    expect(await cache.getOrSet('k', loader)).toBe('loaded once');
    expect(loader).toHaveBeenCalledTimes(1);
    resume();
    await cache.flush();
  });

  test('a slow store write is not reported as a loader timeout', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store, timeouts: { hard: 50 } });
    const resume = store.pause('set');
    const answer = cache.getOrSet('k', async () => 'loaded');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await answer).toBe('loaded');
    resume();
    await cache.flush();
    expect(await cache.get('k')).toBe('loaded');
  });

  test('waitUntil receives every background write, and close() waits for them', async () => {
    const store = new TestStore({ async: true });
    const handed: Promise<unknown>[] = [];
    const cache = createCache({ store, waitUntil: (p) => handed.push(p) });
    const resume = store.pause('set');
    await cache.getOrSet('a', async () => 1);
    await cache.getOrSet('b', async () => 2);
    expect(handed).toHaveLength(2);
    const closing = cache.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(false);
    resume();
    await closing;
    expect([...store.data.keys()].sort()).toEqual(['a', 'b']);
  });

  test('set() still resolves only once the store has answered (read your writes)', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    const resume = store.pause('set');
    const written = deferred<boolean>();
    void cache.set('k', 'v').then(written.resolve);
    let done = false;
    void written.promise.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(done).toBe(false);
    resume();
    expect(await written.promise).toBe(true);
    expect((store.data.get('k') as CacheEntry).value).toBe('v');
  });
});
