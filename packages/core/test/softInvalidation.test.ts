import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  type Cache,
  type CacheOptions,
  createCache,
  InvalidArgumentError,
  LoaderError,
  SOFT_EXPIRED,
} from '../src/index.js';
import { deferred, TestStore } from './testStore.js';

afterEach(() => {
  vi.useRealTimers();
});

const failing = () => Promise.reject(new Error('db down'));

// A cache holding 'old' at `key` (tagged `tags`), fresh for a minute with an hour of grace.
async function cacheWith(
  key = 'k',
  options: Partial<CacheOptions> & { tags?: string[]; async?: boolean; expire?: boolean } = {},
) {
  const { tags, async = false, expire = true, ...rest } = options;
  const store = new TestStore({ async, expire });
  const cache = createCache({ store, ttl: '1m', grace: '1h', ...rest });
  await cache.set(key, 'old', tags ? { tags } : undefined);
  const stale = vi.fn();
  cache.on('stale', stale);
  return { cache, store, stale };
}

// The soft invalidations of one key `k` (tagged 'team', in namespace `ns` where one is given).
const softly: [string, (cache: Cache) => Promise<unknown>][] = [
  ['delete', (cache) => cache.delete('k', { mode: 'expire' })],
  ['deleteMany', (cache) => cache.deleteMany(['k', 'other'], { mode: 'expire' })],
  ['invalidateTags', (cache) => cache.invalidateTags(['team'], { mode: 'expire' })],
  ['clear', (cache) => cache.clear({ mode: 'expire' })],
];

describe("soft invalidation ({ mode: 'expire' })", () => {
  describe.each([
    ['synchronous', false],
    ['asynchronous', true],
  ])('over a %s store', (_, async) => {
    test.each(softly)(
      '%s: the value is no hit any more; the next getOrSet loads anew',
      async (_name, invalidate) => {
        const { cache } = await cacheWith('k', { tags: ['team'], async });
        await invalidate(cache);
        expect(await cache.get('k')).toBeUndefined();
        expect(await cache.has('k')).toBe(false);
        const loader = vi.fn(async () => 'new');
        expect(await cache.getOrSet('k', loader)).toBe('new');
        expect(loader).toHaveBeenCalledTimes(1);
        expect(await cache.getOrSet('k', loader)).toBe('new');
      },
    );

    test.each(softly)(
      '%s: the old value is the grace fallback when the loader fails, reported stale',
      async (_name, invalidate) => {
        const { cache, stale } = await cacheWith('k', { tags: ['team'], async });
        await invalidate(cache);
        const loader = vi.fn(failing);
        expect(await cache.getOrSet('k', loader)).toBe('old');
        expect(loader).toHaveBeenCalledTimes(1);
        expect(stale).toHaveBeenCalledWith(
          expect.objectContaining({ key: 'k', reason: 'loader-error' }),
        );
        expect(cache.stats()).toMatchObject({ staleHits: 1, hits: 0 });
      },
    );

    test.each(softly)(
      '%s: getEntry tells the value is invalidated and stale',
      async (_name, invalidate) => {
        const { cache } = await cacheWith('k', { tags: ['team'], async });
        expect(await cache.getEntry('k')).toMatchObject({ invalidated: false, stale: false });
        await invalidate(cache);
        expect(await cache.getEntry('k')).toMatchObject({
          value: 'old',
          stale: true,
          invalidated: true,
          expiresAt: SOFT_EXPIRED,
        });
        expect(await cache.remainingTtl('k')).toBe(0);
      },
    );
  });

  test.each(softly)(
    '%s without grace is a hard invalidation: a failing loader rejects',
    async (_name, invalidate) => {
      const { cache, stale } = await cacheWith('k', { tags: ['team'], grace: false });
      await invalidate(cache);
      expect(await cache.getEntry('k')).toBeUndefined();
      await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
      expect(stale).not.toHaveBeenCalled();
    },
  );

  test.each(softly)(
    '%s: the fallback is served only within the grace of the value',
    async (_name, invalidate) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const { cache } = await cacheWith('k', { tags: ['team'], grace: '5m' });
      await invalidate(cache);
      vi.advanceTimersByTime(60_000 + 5 * 60_000 + 1);
      await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
    },
  );

  test('the default mode deletes: a failing loader rejects', async () => {
    const { cache } = await cacheWith();
    await cache.delete('k', { mode: 'delete' });
    await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
    await cache.set('k', 'old');
    await cache.delete('k');
    await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
  });

  test.each(softly.filter(([name]) => name !== 'invalidateTags'))(
    '%s over a store without expire deletes instead',
    async (_name, invalidate) => {
      const { cache, store } = await cacheWith('k', { expire: false, tags: ['team'] });
      await invalidate(cache);
      expect(store.data.has('k')).toBe(false);
      await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
    },
  );

  test('invalidateTags needs no expire of the store: the tag record holds the mode', async () => {
    const { cache } = await cacheWith('k', { expire: false, tags: ['team'] });
    await cache.invalidateTags(['team'], { mode: 'expire' });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.getOrSet('k', failing)).toBe('old');
  });

  test('swr serves the invalidated value at once and loads anew in the background', async () => {
    const { cache, stale } = await cacheWith('k', { swr: '1h' });
    await cache.delete('k', { mode: 'expire' });
    const next = deferred<string>();
    expect(await cache.getOrSet('k', () => next.promise)).toBe('old');
    expect(stale).toHaveBeenCalledWith(expect.objectContaining({ reason: 'soft-timeout' }));
    next.resolve('new');
    await new Promise((resolve) => setImmediate(resolve));
    await cache.flush();
    expect(await cache.get('k')).toBe('new');
  });

  test('a hard timeout within grace serves the invalidated value', async () => {
    vi.useFakeTimers();
    const { cache } = await cacheWith('k', { timeouts: { hard: '1s' } });
    await cache.delete('k', { mode: 'expire' });
    const answer = cache.getOrSet('k', () => new Promise<string>(() => {}));
    await vi.advanceTimersByTimeAsync(1_001);
    expect(await answer).toBe('old');
  });

  test('voids loads in flight of the key like a delete: their result is not stored nor joined', async () => {
    const { cache } = await cacheWith('k', { async: true });
    await cache.delete('k');
    const first = deferred<string>();
    const running = cache.getOrSet('k', () => first.promise);
    await new Promise((resolve) => setImmediate(resolve));
    await cache.delete('k', { mode: 'expire' });
    const second = vi.fn(async () => 'after');
    expect(await cache.getOrSet('k', second)).toBe('after');
    expect(second).toHaveBeenCalledTimes(1);
    first.resolve('before');
    expect(await running).toBe('before');
    await cache.flush();
    expect(await cache.get('k')).toBe('after');
  });

  test('ends a grace backoff: the next getOrSet calls the loader', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { cache } = await cacheWith('k', { graceBackoff: '1h' });
    vi.advanceTimersByTime(61_000);
    expect(await cache.getOrSet('k', failing)).toBe('old');
    const loader = vi.fn(async () => 'new');
    expect(await cache.getOrSet('k', loader)).toBe('old'); // backing off
    await cache.delete('k', { mode: 'expire' });
    expect(await cache.getOrSet('k', loader)).toBe('new');
  });

  test('forceFresh falls back on an invalidated value only as on a stale one', async () => {
    const { cache } = await cacheWith('k', { grace: false });
    await cache.delete('k', { mode: 'expire' });
    await expect(cache.getOrSet('k', failing, { forceFresh: true })).rejects.toBeInstanceOf(
      LoaderError,
    );
  });

  test('a tag invalidated hard stays void after a soft invalidation of it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { cache } = await cacheWith('early', { tags: ['team'] });
    await cache.invalidateTags(['team']);
    vi.advanceTimersByTime(1);
    await cache.set('late', 'late', { tags: ['team'] });
    vi.advanceTimersByTime(1);
    await cache.invalidateTags(['team'], { mode: 'expire' });
    await expect(cache.getOrSet('early', failing)).rejects.toBeInstanceOf(LoaderError);
    expect(await cache.getOrSet('late', failing)).toBe('late');
  });

  test('a tag invalidated softly, then hard, voids its entries', async () => {
    const { cache } = await cacheWith('k', { tags: ['team'] });
    await cache.invalidateTags(['team'], { mode: 'expire' });
    await cache.invalidateTags(['team']);
    await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
  });

  test('a hard tag invalidation made while a soft one of the tag is under way is not lost', async () => {
    const { cache, store } = await cacheWith('k', { tags: ['team'], async: true });
    // Reads of tag records take effect at once but answer only once `answer` resolves: the soft
    // invalidation's read of the record before it writes its own is slow.
    const answer = deferred<void>();
    const read = store.get.bind(store);
    store.get = (key) => {
      const found = read(key);
      return key.startsWith('__cache:') ? answer.promise.then(() => found) : found;
    };
    const soft = cache.invalidateTags(['team'], { mode: 'expire' });
    await new Promise((resolve) => setImmediate(resolve));
    await cache.set('k', 'between', { tags: ['team'] });
    const hard = cache.invalidateTags(['team']);
    await new Promise((resolve) => setImmediate(resolve));
    answer.resolve();
    await Promise.all([soft, hard]);
    expect(await cache.get('k')).toBeUndefined();
    await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
  });

  test('an entry written after a soft tag invalidation is fresh', async () => {
    const { cache } = await cacheWith('k', { tags: ['team'] });
    await cache.invalidateTags(['team'], { mode: 'expire' });
    await cache.set('k', 'new', { tags: ['team'] });
    expect(await cache.get('k')).toBe('new');
    expect(await cache.getEntry('k')).toMatchObject({ invalidated: false, stale: false });
  });

  test('a soft clear of everything keeps the tag records: what a tag voided stays void', async () => {
    const { cache } = await cacheWith('k', { tags: ['team'] });
    await cache.invalidateTags(['team']);
    await cache.clear({ mode: 'expire' });
    await expect(cache.getOrSet('k', failing)).rejects.toBeInstanceOf(LoaderError);
  });

  test.each([
    ['a plain namespace', false],
    ['a versioned namespace', true],
  ])('invalidate of %s expires only its own entries', async (_, versioned) => {
    const store = new TestStore();
    const cache = createCache({ store, ttl: '1m', grace: '1h' });
    const users = cache.namespace('users', { versioned });
    await users.set('1', 'Ada');
    await cache.set('other', 'kept');
    await users.invalidate({ mode: 'expire' });
    expect(await users.get('1')).toBeUndefined();
    expect(await users.getEntry('1')).toMatchObject({ value: 'Ada', invalidated: true });
    expect(await users.getOrSet('1', failing)).toBe('Ada');
    expect(await cache.get('other')).toBe('kept');
  });

  test('clear of a namespace expires only its entries', async () => {
    const store = new TestStore();
    const cache = createCache({ store, ttl: '1m', grace: '1h' });
    await cache.namespace('users').set('1', 'Ada');
    await cache.set('other', 'kept');
    await cache.namespace('users').clear({ mode: 'expire' });
    expect(await cache.namespace('users').getOrSet('1', failing)).toBe('Ada');
    expect(await cache.get('other')).toBe('kept');
  });

  test('a soft invalidation relayed from another process voids loads in flight of the key', async () => {
    const { cache, store } = await cacheWith('k', { async: true });
    await cache.delete('k');
    const first = deferred<string>();
    const running = cache.getOrSet('k', () => first.promise);
    await new Promise((resolve) => setImmediate(resolve));
    store.receive({ type: 'delete', keys: ['k'], mode: 'expire' });
    first.resolve('before');
    expect(await running).toBe('before');
    await cache.flush();
    expect(store.data.has('k')).toBe(false);
  });

  test('events tell a soft invalidation', async () => {
    const { cache } = await cacheWith('k', { tags: ['team'] });
    const events = vi.fn();
    cache.on('delete', events).on('clear', events).on('invalidate', events);
    await cache.delete('k', { mode: 'expire' });
    await cache.invalidateTags(['team'], { mode: 'expire' });
    await cache.clear({ mode: 'expire' });
    expect(events.mock.calls.map(([payload]) => payload)).toEqual([
      { key: 'k', store: 'test', soft: true },
      { tags: ['team'], store: 'test', soft: true },
      { prefix: undefined, store: 'test', soft: true },
    ]);
  });

  test('rejects a mode that is neither delete nor expire', async () => {
    const { cache } = await cacheWith();
    // @ts-expect-error: not a mode
    await expect(cache.delete('k', { mode: 'soft' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
