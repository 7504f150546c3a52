import { EventEmitter } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import { createCache, fromEventEmitter, InvalidArgumentError } from '../src/index.js';
import { deferred, TestStore } from './testStore.js';

describe('tags', () => {
  test('invalidateTags voids every entry carrying the tag and only those', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.set('user:1', 'a', { tags: ['users', 'user:1'] });
    await cache.set('user:2', 'b', { tags: ['users'] });
    await cache.set('post:1', 'p', { tags: ['posts'] });
    await cache.set('plain', 'x');
    expect(await cache.invalidateTags(['users'])).toBe(true);
    expect(await cache.getMany(['user:1', 'user:2', 'post:1', 'plain'])).toEqual([
      undefined,
      undefined,
      'p',
      'x',
    ]);
  });

  test('getOrSet reloads an entry whose tag was invalidated, and the reload is served again', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    let n = 0;
    const loader = vi.fn(async () => ++n);
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(1);
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(1);
    await cache.invalidateTags(['t']);
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(2);
    expect(await cache.getOrSet('k', loader, { tags: ['t'] })).toBe(2);
    expect(loader).toHaveBeenCalledTimes(2);
  });

  test('tags set by the loader count too', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.getOrSet('k', (ctx) => {
      ctx.setTags(['from-loader']);
      return 'v';
    });
    await cache.invalidateTags(['from-loader']);
    expect(await cache.get('k')).toBeUndefined();
  });

  test('thousands of tags: invalidating 2,000 of 5,000 voids exactly those entries', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.setMany(
      Array.from(
        { length: 5_000 },
        (_, i) => [`k${i}`, i, { tags: [`t${i}`, 'all'] }] as [string, number, { tags: string[] }],
      ),
    );
    await cache.invalidateTags(Array.from({ length: 2_000 }, (_, i) => `t${i * 2}`));
    const values = await cache.getMany(Array.from({ length: 5_000 }, (_, i) => `k${i}`));
    const kept = values.filter((v) => v !== undefined) as number[];
    expect(kept).toHaveLength(3_000);
    expect(kept.every((v) => v % 2 === 1 || v >= 4_000)).toBe(true);
  });

  test('a tag invalidated while a load runs: the waiter gets the value, later readers do not', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const gate = deferred<string>();
    const pending = cache.getOrSet('k', () => gate.promise, { tags: ['t'] });
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.invalidateTags(['t']);
    gate.resolve('loaded before the invalidation');
    expect(await pending).toBe('loaded before the invalidation');
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.getOrSet('k', async () => 'fresh', { tags: ['t'] })).toBe('fresh');
  });

  test('a tag the loader sets while it runs, invalidated meanwhile: not stored, not joined afterwards', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const gate = deferred<string>();
    const pending = cache.getOrSet('k', async (ctx) => {
      ctx.setTags(['t']);
      return gate.promise;
    });
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.invalidateTags(['t']);
    const after = cache.getOrSet('k', async () => 'fresh');
    gate.resolve('loaded before the invalidation');
    expect(await pending).toBe('loaded before the invalidation');
    expect(await after).toBe('fresh');
    await cache.flush();
    expect(await cache.get('k')).toBe('fresh');
  });

  test('an invalidation of other tags while a load runs: its value is stored, so the next caller loads nothing', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const gate = deferred<string>();
    const loader = vi.fn(() => gate.promise);
    const pending = cache.getOrSet('k', loader, { tags: ['mine'] });
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.invalidateTags(['other']);
    gate.resolve('loaded');
    expect(await pending).toBe('loaded');
    await cache.flush();
    expect(await cache.getOrSet('k', loader, { tags: ['mine'] })).toBe('loaded');
    expect(loader).toHaveBeenCalledTimes(1);
  });

  test('a tag invalidation that failed resolves false and reaches the others once the store is back', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    // Another process over the same data.
    const other = createCache({ store: new TestStore({}, store.data), tagRecheck: 10 });
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e));
    await cache.set('k', 'v', { tags: ['t'] });
    expect(await other.get('k')).toBe('v');
    store.down = true;
    expect(await cache.invalidateTags(['t'])).toBe(false);
    expect(errors.length).toBeGreaterThan(0);
    store.down = false;
    await vi.waitFor(async () => expect(await other.get('k')).toBeUndefined(), { timeout: 10_000 });
    await cache.close();
  });

  test('a tag invalidation that failed lands as soon as the store answers again, not after its backoff', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    try {
      const store = new TestStore({ async: true });
      const cache = createCache({ store });
      const other = createCache({ store: new TestStore({}, store.data), tagRecheck: 10 });
      await cache.set('k', 'v', { tags: ['t'] });
      expect(await other.get('k')).toBe('v');
      store.down = true;
      expect(await cache.invalidateTags(['t'])).toBe(false);
      // Retries fail 100, 200, 400, 800 and 1,600 ms apart: the next one waits 3.2 s (an answer may
      // hurry it once a quarter of that has passed).
      await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 1_600 + 850);
      store.down = false;
      expect(await cache.get('elsewhere')).toBeUndefined(); // the store answers again
      await vi.advanceTimersByTimeAsync(20); // far less than the backoff left
      expect(await other.get('k')).toBeUndefined();
      await cache.close();
    } finally {
      vi.useRealTimers();
    }
  });

  test('a failing tag lookup is treated as a miss, never as valid', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    await cache.set('k', 'v', { tags: ['t'] });
    const realGet = store.get.bind(store);
    store.get = (key: string) =>
      key.includes('tag:') ? Promise.reject(new Error('down')) : realGet(key);
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.stats().errors).toBe(1);
  });

  test('reserved names are rejected', async () => {
    const cache = createCache({ store: new TestStore() });
    await expect(cache.invalidateTags(['__ns:x'])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.set('k', 1, { tags: ['__x'] })).rejects.toMatchObject({ argument: 'tags' });
    await expect(cache.set('__cache:tag:x', 1)).rejects.toMatchObject({ argument: 'key' });
  });
});

describe('tag records kept in process', () => {
  test('a store that relays invalidations: tagged hits stop reading tag records', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cache.set('k', 'v', { tags: ['a', 'b'] });
    await cache.get('k');
    const reads = store.reads;
    for (let i = 0; i < 10; i++) expect(await cache.get('k')).toBe('v');
    expect(store.reads - reads).toBe(10);
  });

  test('an invalidation relayed from another process is seen at once', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cache.set('k', 'v', { tags: ['t'] });
    expect(await cache.get('k')).toBe('v');
    // Another process invalidates: its record lands in the shared tier and its bus message arrives.
    const other = createCache({ store: new TestStore({}, store.data), tagRecheck: 10 });
    await other.invalidateTags(['t']);
    store.receive({ type: 'delete', keys: ['__cache:tag:t'] });
    expect(await cache.get('k')).toBeUndefined();
  });

  test('two caches over one store share what they know', async () => {
    const store = new TestStore();
    const a = createCache({ store });
    const b = createCache({ store });
    await a.set('k', 'v', { tags: ['t'] });
    expect(await b.get('k')).toBe('v');
    await a.invalidateTags(['t']);
    expect(await b.get('k')).toBeUndefined();
  });
});

describe('loads in flight', () => {
  test('a delete while a load runs keeps the loaded value out of the cache', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    const gate = deferred<string>();
    const pending = cache.getOrSet('k', () => gate.promise);
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.delete('k');
    gate.resolve('pre-delete value');
    expect(await pending).toBe('pre-delete value');
    expect(store.data.has('k')).toBe(false);
  });

  test('a set while a load runs is not overwritten by the older load', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const gate = deferred<string>();
    const pending = cache.getOrSet('k', () => gate.promise);
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.set('k', 'newer');
    gate.resolve('older');
    await pending;
    expect(await cache.get('k')).toBe('newer');
  });

  test('an invalidation from another process voids the load too', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    for (const message of [
      { type: 'delete' as const, keys: ['a'] },
      { type: 'clear' as const, prefix: 'a' },
      { type: 'pattern' as const, pattern: 'a*' },
    ]) {
      const gate = deferred<string>();
      const pending = cache.getOrSet('a', () => gate.promise);
      await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
      store.receive(message);
      gate.resolve('stale');
      await pending;
      expect(store.data.has('a')).toBe(false);
    }
  });

  test('a clear or deletePattern while a load runs voids it', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    for (const invalidate of [() => cache.clear(), () => cache.deletePattern('user:*')]) {
      const gate = deferred<string>();
      const pending = cache.getOrSet('user:1', () => gate.promise);
      await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
      await invalidate();
      gate.resolve('old');
      await pending;
      expect(store.data.has('user:1')).toBe(false);
    }
  });
});

describe('namespace versions', () => {
  test('invalidate() on a versioned namespace voids all of it in O(1), and nothing else', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    const users = cache.namespace('users', { versioned: true });
    await Promise.all(Array.from({ length: 100 }, (_, i) => users.set(String(i), i)));
    await cache.set('other', 'kept');
    const writesBefore = store.data.size;
    await users.invalidate();
    expect(store.data.size).toBe(writesBefore + 1); // one version record, no key touched
    expect(await users.getMany(['0', '50', '99'])).toEqual([undefined, undefined, undefined]);
    expect(await cache.get('other')).toBe('kept');
    await users.set('0', 'again');
    expect(await users.get('0')).toBe('again');
  });

  test('invalidating a parent versioned namespace voids its children', async () => {
    const cache = createCache({ store: new TestStore() });
    const tenant = cache.namespace('tenant:1', { versioned: true });
    const users = tenant.namespace('users', { versioned: true });
    await users.set('1', 'a');
    await tenant.invalidate();
    expect(await users.get('1')).toBeUndefined();
  });

  test('invalidate() on a plain namespace clears its prefix', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cache.namespace('a').set('1', 1);
    await cache.namespace('b').set('1', 1);
    await cache.namespace('a').invalidate();
    expect([...store.data.keys()]).toEqual(['b:1']);
  });
});

describe('deletePattern', () => {
  test('the seed pattern *:{user_id}:* removes every key of that user', async () => {
    const cache = createCache({ store: new TestStore() });
    const keys = [
      'user:123:profile',
      'orders:123:page:1',
      'user:1234:profile',
      'user:123',
      'feed:9:123',
    ];
    for (const key of keys) await cache.set(key, key);
    expect(await cache.deletePattern('*:123:*')).toBe(2);
    expect(await cache.getMany(keys)).toEqual([
      undefined,
      undefined,
      'user:1234:profile',
      'user:123',
      'feed:9:123',
    ]);
  });

  test('stays inside its namespace even when the namespace has glob characters', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cache.namespace('a*').set('x:1', 1);
    await cache.namespace('ab').set('x:1', 1);
    expect(await cache.namespace('a*').deletePattern('x:*')).toBe(1);
    expect([...store.data.keys()]).toEqual(['ab:x:1']);
  });

  test('a store without deletePattern rejects with E_UNSUPPORTED', async () => {
    const store = new TestStore();
    const cache = createCache({
      store: {
        ...store,
        name: 'plain',
        get: store.get.bind(store),
        set: store.set.bind(store),
        delete: store.delete.bind(store),
        clear: store.clear.bind(store),
        deletePattern: undefined,
        subscribe: undefined,
      } as never,
    });
    await expect(cache.deletePattern('x*')).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
  });
});

describe('invalidateOn', () => {
  test('the seed EventDrivenCache: user.updated deletes the user and profile keys', async () => {
    const cache = createCache({ store: new TestStore() });
    const events = new EventEmitter();
    await cache.set('user:123', 'ada');
    await cache.set('user_profile:123', 'profile');
    await cache.set('user:124', 'bob');
    const deleted = new Promise((resolve) => cache.on('delete', resolve));
    await cache.invalidateOn(fromEventEmitter(events), {
      'user.updated': (event: { userId: number }) => [
        `user:${event.userId}`,
        `user_profile:${event.userId}`,
      ],
    });
    events.emit('user.updated', { userId: 123 });
    await deleted;
    await vi.waitFor(async () =>
      expect(await cache.getMany(['user:123', 'user_profile:123', 'user:124'])).toEqual([
        undefined,
        undefined,
        'bob',
      ]),
    );
  });

  test('handlers may return tags, prefixes and patterns; stop() ends it', async () => {
    const cache = createCache({ store: new TestStore() });
    const events = new EventEmitter();
    await cache.set('a', 1, { tags: ['t'] });
    await cache.set('p:1', 1);
    await cache.set('x:9:y', 1);
    await cache.set('keep', 1);
    const stop = await cache.invalidateOn(fromEventEmitter(events), {
      changed: () => ({ tags: ['t'], prefixes: ['p:'], patterns: ['*:9:*'] }),
    });
    events.emit('changed', {});
    await vi.waitFor(async () =>
      expect(await cache.getMany(['a', 'p:1', 'x:9:y', 'keep'])).toEqual([
        undefined,
        undefined,
        undefined,
        1,
      ]),
    );
    stop();
    expect(events.listenerCount('changed')).toBe(0);
  });

  test('a handler that throws is an error event, not a crash', async () => {
    const cache = createCache({ store: new TestStore() });
    const events = new EventEmitter();
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e));
    await cache.invalidateOn(fromEventEmitter(events), {
      bad: () => {
        throw new Error('handler bug');
      },
      async: async () => Promise.reject(new Error('async bug')),
    });
    events.emit('bad', {});
    events.emit('async', {});
    await vi.waitFor(() => expect(errors).toHaveLength(2));
    expect(errors[0]).toMatchObject({ operation: 'invalidate', key: 'bad' });
  });
});
