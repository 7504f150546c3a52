import { describe, expect, test, vi } from 'vitest';
import { type CacheEvents, createCache, defaultSerializer, StoreError } from '../src/index.js';
import { TestStore } from './testStore.js';

describe('cache-aside operations', () => {
  test('get, set, has and delete a value', async () => {
    const cache = createCache({ store: new TestStore() });
    expect(await cache.get('user:1')).toBeUndefined();
    expect(await cache.set('user:1', { id: 1 })).toBe(true);
    expect(await cache.get('user:1')).toEqual({ id: 1 });
    expect(await cache.has('user:1')).toBe(true);
    expect(await cache.delete('user:1')).toBe(true);
    expect(await cache.delete('user:1')).toBe(false);
    expect(await cache.has('user:1')).toBe(false);
  });

  test('stores null as a value', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.set('k', null);
    expect(await cache.get('k')).toBeNull();
    expect(await cache.has('k')).toBe(true);
  });

  test('a TTL of 0 stores nothing and removes the previous value', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.set('k', 'old');
    await cache.set('k', 'new', { ttl: 0 });
    expect(await cache.get('k')).toBeUndefined();
  });

  test('getMany, setMany and deleteMany work in order with holes', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    await cache.setMany([
      ['a', 1],
      ['c', 3, { ttl: '1m' }],
    ]);
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([1, undefined, 3]);
    expect(await cache.deleteMany(['a', 'b'])).toBe(1);
    expect(await cache.getMany(['a', 'c'])).toEqual([undefined, 3]);
  });

  test('round-trips Dates, Maps and BigInts through a serializing store', async () => {
    const store = new TestStore();
    const cache = createCache({ store, serializer: defaultSerializer });
    const value = {
      at: new Date(0),
      tags: new Set(['a']),
      big: 10n ** 20n,
      byId: new Map([[1, 'x']]),
    };
    await cache.set('k', value);
    expect(typeof store.data.get('k')).toBe('string');
    expect(await cache.get('k')).toEqual(value);
  });
});

describe('namespaces', () => {
  test('prefix keys and clear only their own keys', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    const users = cache.namespace('users');
    const posts = cache.namespace('posts');
    await users.set('1', 'ada');
    await posts.set('1', 'hello');
    expect([...store.data.keys()].sort()).toEqual(['posts:1', 'users:1']);
    await users.clear();
    expect(await users.get('1')).toBeUndefined();
    expect(await posts.get('1')).toBe('hello');
  });

  test('nest, and take a namespace from the options', async () => {
    const store = new TestStore();
    const cache = createCache({ store, namespace: 'app' });
    await cache.namespace('users').namespace('v2').set('1', 'x');
    expect([...store.data.keys()]).toEqual(['app:users:v2:1']);
  });
});

describe('events and stats', () => {
  test('emit hit, miss, set, delete and clear with the full key', async () => {
    const cache = createCache({ store: new TestStore() }).namespace('ns');
    const seen: [string, unknown][] = [];
    for (const name of ['hit', 'miss', 'set', 'delete', 'clear'] as (keyof CacheEvents)[]) {
      cache.on(name, (payload) => seen.push([name, (payload as { key?: string }).key ?? null]));
    }
    await cache.get('a');
    await cache.set('a', 1);
    await cache.get('a');
    await cache.delete('a');
    await cache.clear();
    expect(seen).toEqual([
      ['miss', 'ns:a'],
      ['set', 'ns:a'],
      ['hit', 'ns:a'],
      ['delete', 'ns:a'],
      ['clear', null],
    ]);
  });

  test('stop calling a listener after off()', async () => {
    const cache = createCache({ store: new TestStore() });
    const listener = vi.fn();
    cache.on('miss', listener);
    await cache.get('a');
    cache.off('miss', listener);
    await cache.get('a');
    expect(listener).toHaveBeenCalledTimes(1);
    expect(cache.stats().misses).toBe(2);
  });

  test('a throwing listener does not fail the operation and is reported as a warning', async () => {
    const cache = createCache({ store: new TestStore() });
    const bug = new Error('listener bug');
    cache.on('set', () => {
      throw bug;
    });
    // Stubbed, so that a passing run does not print the warning.
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect(await cache.set('a', 1)).toBe(true);
    expect(warn).toHaveBeenCalledExactlyOnceWith(bug);
  });
});

describe('when the store fails', () => {
  for (const async of [false, true]) {
    const kind = async ? 'an async' : 'a sync';
    test(`getOrSet falls back to the loader (${kind} store)`, async () => {
      const store = new TestStore({ async });
      const cache = createCache({ store });
      const errors: CacheEvents['error'][] = [];
      cache.on('error', (e) => errors.push(e));
      store.down = true;
      expect(await cache.getOrSet('k', async () => 'from db')).toBe('from db');
      expect(errors.map((e) => [e.operation, e.dropped])).toEqual([
        ['get', false],
        ['set', true],
      ]);
      expect(errors[0]!.error).toBeInstanceOf(StoreError);
      expect(cache.stats()).toMatchObject({ errors: 2, droppedWrites: 1 });
    });

    test(`writes resolve false and count as dropped (${kind} store)`, async () => {
      const store = new TestStore({ async });
      const cache = createCache({ store });
      const dropped = vi.fn();
      cache.on('error', dropped);
      store.down = true;
      expect(await cache.set('k', 1)).toBe(false);
      expect(await cache.delete('k')).toBe(false);
      expect(await cache.setMany([['k', 1]])).toBe(false);
      await cache.clear();
      expect(await cache.get('k')).toBeUndefined();
      expect(cache.stats().droppedWrites).toBe(4);
      expect(dropped).toHaveBeenCalledTimes(5);
    });
  }

  test('without an error listener, failures are only counted', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    store.down = true;
    await expect(cache.set('k', 1)).resolves.toBe(false);
    expect(cache.stats().errors).toBe(1);
  });

  test('recovers as soon as the store answers again', async () => {
    const store = new TestStore({ async: true });
    const cache = createCache({ store });
    store.down = true;
    await cache.getOrSet('k', async () => 1);
    store.down = false;
    expect(await cache.getOrSet('k', async () => 2)).toBe(2);
    expect(await cache.getOrSet('k', async () => 3)).toBe(2);
  });

  test('a store that breaks the contract gets a StoreError naming it', async () => {
    const store = new TestStore();
    store.data.set('k', 'not an entry');
    const broken = {
      ...store,
      name: 'broken',
      get: () => 'raw string' as never,
    } as unknown as TestStore;
    const cache = createCache({ store: broken });
    await expect(cache.get('k')).rejects.toMatchObject({
      code: 'E_STORE_CONTRACT',
      store: 'broken',
    });
  });
});
