import { afterEach, describe, expect, test, vi } from 'vitest';
import { createCache, LoaderError, LoaderTimeoutError } from '../src/index.js';
import { deferred, TestStore } from './testStore.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('grace (stale-if-error)', () => {
  test('serves the stale value when the loader fails within grace', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '1h' });
    const stale = vi.fn();
    cache.on('stale', stale);
    await cache.getOrSet('k', async () => 'old');
    vi.advanceTimersByTime(61_000);
    expect(await cache.getOrSet('k', async () => Promise.reject(new Error('db down')))).toBe('old');
    expect(stale).toHaveBeenCalledWith(
      expect.objectContaining({ key: 'k', reason: 'loader-error' }),
    );
    expect(cache.stats()).toMatchObject({ staleHits: 1, loadErrors: 1 });
  });

  test('backs off after a failure before calling the loader again', async () => {
    vi.useFakeTimers();
    const cache = createCache({
      store: new TestStore(),
      ttl: '1m',
      grace: '1h',
      graceBackoff: '10s',
    });
    await cache.getOrSet('k', async () => 'old');
    vi.advanceTimersByTime(61_000);
    const failing = vi.fn(async () => Promise.reject(new Error('down')));
    expect(await cache.getOrSet('k', failing)).toBe('old');
    expect(await cache.getOrSet('k', failing)).toBe('old');
    expect(failing).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_001);
    expect(await cache.getOrSet('k', async () => 'new')).toBe('new');
  });

  test('rejects with a LoaderError once grace is over', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '5m' });
    await cache.getOrSet('k', async () => 'old');
    vi.advanceTimersByTime(6 * 60_000 + 1);
    const error = await cache
      .getOrSet('k', async () => Promise.reject(new Error('down')))
      .catch((e) => e);
    expect(error).toBeInstanceOf(LoaderError);
    expect(error.cause).toEqual(new Error('down'));
  });

  test('hands the stale value to the loader', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '1h' });
    await cache.getOrSet('counter', async () => 1);
    vi.advanceTimersByTime(61_000);
    expect(await cache.getOrSet<number>('counter', async (ctx) => (ctx.stale ?? 0) + 1)).toBe(2);
  });
});

describe('loader timeouts', () => {
  test('soft timeout serves stale and the loader finishes in the background', async () => {
    vi.useFakeTimers();
    const cache = createCache({
      store: new TestStore(),
      ttl: '1m',
      grace: '1h',
      timeouts: { soft: 100 },
    });
    await cache.getOrSet('k', async () => 'old');
    vi.advanceTimersByTime(61_000);
    const slow = deferred<string>();
    const pending = cache.getOrSet('k', () => slow.promise);
    await vi.advanceTimersByTimeAsync(101);
    expect(await pending).toBe('old');
    slow.resolve('new');
    await vi.waitFor(async () => expect(await cache.get('k')).toBe('new'));
  });

  test('soft timeout without a stale value waits for the loader', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), timeouts: { soft: 100 } });
    const slow = deferred<string>();
    let answered = false;
    const pending = cache.getOrSet('k', () => slow.promise).finally(() => (answered = true));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(answered).toBe(false);
    slow.resolve('fresh');
    expect(await pending).toBe('fresh');
  });

  test('hard timeout rejects with LoaderTimeoutError and aborts the signal', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), timeouts: { hard: '2s' } });
    let signal: AbortSignal | undefined;
    const pending = cache.getOrSet('k', (ctx) => {
      signal = ctx.signal;
      return new Promise<string>(() => {});
    });
    const settled = pending.catch((e) => e);
    await vi.advanceTimersByTimeAsync(2_001);
    const error = await settled;
    expect(error).toBeInstanceOf(LoaderTimeoutError);
    expect(error).toMatchObject({ key: 'k', timeout: 2_000 });
    expect(signal?.aborted).toBe(true);
  });

  test('a loader that finishes after the hard timeout still fills the cache', async () => {
    vi.useFakeTimers();
    const cache = createCache({ store: new TestStore(), timeouts: { hard: 50 } });
    const slow = deferred<string>();
    const pending = cache.getOrSet('k', () => slow.promise).catch((e) => e);
    await vi.advanceTimersByTimeAsync(51);
    expect(await pending).toBeInstanceOf(LoaderTimeoutError);
    slow.resolve('late');
    await vi.waitFor(async () => expect(await cache.get('k')).toBe('late'));
  });

  test('hard timeout with a stale value serves it', async () => {
    vi.useFakeTimers();
    const cache = createCache({
      store: new TestStore(),
      ttl: '1m',
      grace: '1h',
      timeouts: { hard: 50 },
    });
    await cache.getOrSet('k', async () => 'old');
    vi.advanceTimersByTime(61_000);
    const pending = cache.getOrSet('k', () => new Promise<string>(() => {}));
    await vi.advanceTimersByTimeAsync(51);
    expect(await pending).toBe('old');
  });
});
