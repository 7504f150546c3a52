import { describe, expect, test, vi } from 'vitest';
import { createCache, LoaderError } from '../src/index.js';
import { deferred, TestStore } from './testStore.js';

// A store with getMany, counting its calls.
class BatchStore extends TestStore {
  batchReads = 0;
  getMany(keys: string[]) {
    this.batchReads++;
    return Promise.all(keys.map((key) => this.get(key)));
  }
}

const values = <T>(results: PromiseSettledResult<T>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));

describe('getOrSetMany', () => {
  test('one store read and one loader call for the missing keys; fresh ones are served', async () => {
    const store = new BatchStore({ async: true });
    const cache = createCache({ store });
    await cache.set('b', 'cached b');
    const loader = vi.fn(async (missing: string[]) => missing.map((key) => `loaded ${key}`));
    const results = await cache.getOrSetMany(['a', 'b', 'c'], loader);
    expect(values(results)).toEqual(['loaded a', 'cached b', 'loaded c']);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(loader.mock.calls[0]![0]).toEqual(['a', 'c']);
    expect(store.batchReads).toBe(1);
    await cache.flush();
    expect(await cache.getMany(['a', 'c'])).toEqual(['loaded a', 'loaded c']);
  });

  test('keys already loading join their loads instead of loading again', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const slow = deferred<string>();
    const running = cache.getOrSet('b', () => slow.promise);
    await new Promise((resolve) => setImmediate(resolve));
    const loader = vi.fn(async (missing: string[]) => missing.map((key) => `batch ${key}`));
    const many = cache.getOrSetMany(['a', 'b'], loader);
    slow.resolve('single b');
    expect(values(await many)).toEqual(['batch a', 'single b']);
    expect(await running).toBe('single b');
    expect(loader.mock.calls.map(([missing]) => missing)).toEqual([['a']]);
  });

  test('per-key errors, TTLs and tags; a map may leave keys out (not cached)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const cache = createCache({ store: new TestStore(), ttl: '1h' });
      const results = await cache.getOrSetMany(['a', 'b', 'c'], async (_missing, context) => {
        context.of('a').setTtl('1m');
        context.of('a').setTags(['team']);
        return new Map<string, string | Error>([
          ['a', 'A'],
          ['b', new Error('no such row')],
        ]);
      });
      expect(results[0]).toEqual({ status: 'fulfilled', value: 'A' });
      expect(results[1]!.status).toBe('rejected');
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(LoaderError);
      expect(results[2]).toEqual({ status: 'fulfilled', value: undefined });
      await cache.flush();
      expect(await cache.getEntry('a')).toMatchObject({ tags: ['team'] });
      expect(await cache.remainingTtl('a')).toBe(60_000);
      expect(await cache.get('b')).toBeUndefined();
      expect(await cache.get('c')).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  test('a failing batch loader fails each key, served stale within grace', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const cache = createCache({ store: new TestStore(), ttl: '1m', grace: '1h' });
      await cache.set('a', 'old a');
      vi.advanceTimersByTime(61_000);
      const results = await cache.getOrSetMany(['a', 'b'], async () => {
        throw new Error('db down');
      });
      expect(results[0]).toEqual({ status: 'fulfilled', value: 'old a' });
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(LoaderError);
    } finally {
      vi.useRealTimers();
    }
  });

  test('a key deleted while the batch loads is not stored', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const rows = deferred<string[]>();
    const many = cache.getOrSetMany(['a', 'b'], () => rows.promise);
    await new Promise((resolve) => setImmediate(resolve));
    await cache.delete('a');
    rows.resolve(['read before the delete', 'b']);
    expect(values(await many)).toEqual(['read before the delete', 'b']);
    await cache.flush();
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, 'b']);
  });

  test('a result count that does not match the keys fails them with a clear error', async () => {
    const cache = createCache({ store: new TestStore() });
    const results = await cache.getOrSetMany(['a', 'b'], async () => ['only one']);
    expect((results[0] as PromiseRejectedResult).reason.cause).toBeInstanceOf(TypeError);
    expect(String((results[0] as PromiseRejectedResult).reason.cause)).toMatch(
      /1 results for 2 keys/,
    );
  });
});
