import { describe, expect, test, vi } from 'vitest';
import {
  CacheInconsistencyError,
  cached,
  cachedMethod,
  createCache,
  InvalidArgumentError,
  readThrough,
} from '../src/index.js';
import { TestStore } from './testStore.js';

describe('cached()', () => {
  test('calls the function once per distinct arguments', async () => {
    const cache = createCache({ store: new TestStore() });
    const fetchUser = vi.fn(async (id: string, opts?: { full: boolean }) => ({
      id,
      full: !!opts?.full,
    }));
    const getUser = cached(fetchUser, { cache, ttl: '1h', keyPrefix: 'users' });
    expect(await getUser('1')).toEqual({ id: '1', full: false });
    expect(await getUser('1')).toEqual({ id: '1', full: false });
    expect(await getUser('1', { full: true })).toEqual({ id: '1', full: true });
    expect(await getUser('2')).toEqual({ id: '2', full: false });
    expect(fetchUser).toHaveBeenCalledTimes(3);
  });

  test('derives keys from the prefix, function name and encoded arguments', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    async function getUser(id: number, filter: object) {
      return { id, filter };
    }
    await cached(getUser, { cache, keyPrefix: 'users' })(7, { b: 2, a: 1 });
    expect([...store.data.keys()]).toEqual(['users:getUser:[7,{"a":1,"b":2}]']);
  });

  test('treats object arguments with keys in another order as the same call', async () => {
    const cache = createCache({ store: new TestStore() });
    const search = vi.fn(async (q: object) => q);
    const cachedSearch = cached(search, { cache, name: 'search' });
    await cachedSearch({ a: 1, b: 2 });
    await cachedSearch({ b: 2, a: 1 });
    expect(search).toHaveBeenCalledTimes(1);
  });

  test('never lets two different argument lists share a key', async () => {
    const cache = createCache({ store: new TestStore() });
    const echo = cached(async (...args: unknown[]) => args, { cache, name: 'echo' });
    expect(await echo('a:b')).toEqual(['a:b']);
    expect(await echo('a', 'b')).toEqual(['a', 'b']);
    expect(await echo(1)).toEqual([1]);
    expect(await echo('1')).toEqual(['1']);
  });

  test('hashes long arguments so keys stay short', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cached(async (s: string) => s.length, { cache, name: 'len' })('x'.repeat(10_000));
    const [key] = [...store.data.keys()];
    expect(key!.length).toBeLessThan(40);
    expect(key).toMatch(/^len:#/);
  });

  test('keeps this and shares one call among concurrent callers', async () => {
    const cache = createCache({ store: new TestStore() });
    const repo = {
      table: 'users',
      calls: 0,
      async find(id: string) {
        this.calls++;
        return `${this.table}/${id}`;
      },
    };
    const find = cached(repo.find, { cache, name: 'find' });
    const results = await Promise.all(Array.from({ length: 100 }, () => find.call(repo, '1')));
    expect(new Set(results)).toEqual(new Set(['users/1']));
    expect(repo.calls).toBe(1);
  });

  test('rejects anonymous functions without a name, and functions it cannot key', async () => {
    const cache = createCache({ store: new TestStore() });
    expect(() => cached(async () => 1, { cache })).toThrow(InvalidArgumentError);
    expect(() => cached(async () => 1, {} as never)).toThrow(InvalidArgumentError);
    const f = cached(async (_cb: unknown) => 1, { cache, name: 'f' });
    await expect(f(() => 1)).rejects.toMatchObject({ argument: 'args' });
  });
});

describe('@cachedMethod', () => {
  test('caches a method under ClassName.method', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    let calls = 0;
    class UserService {
      @cachedMethod({ cache, ttl: '5m', keyPrefix: 'svc' })
      async find(id: number) {
        calls++;
        return { id };
      }
    }
    const service = new UserService();
    expect(await service.find(1)).toEqual({ id: 1 });
    expect(await new UserService().find(1)).toEqual({ id: 1 });
    expect(calls).toBe(1);
    expect([...store.data.keys()]).toEqual(['svc:UserService.find:[1]']);
  });
});

describe('readThrough()', () => {
  test('loads misses by key and caches them under the namespace', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    const load = vi.fn(async (id: string) => `user ${id}`);
    const getUser = readThrough(cache.namespace('user'), load);
    expect(await getUser('1')).toBe('user 1');
    expect(await getUser('1')).toBe('user 1');
    expect(load).toHaveBeenCalledTimes(1);
    expect([...store.data.keys()]).toEqual(['user:1']);
  });
});

describe('writeThrough()', () => {
  test('writes the database first, then the cache', async () => {
    const cache = createCache({ store: new TestStore() });
    const order: string[] = [];
    cache.on('set', () => order.push('cache'));
    const result = await cache.writeThrough('user:1', { name: 'Ada' }, async () => {
      order.push('db');
      return 'row-1';
    });
    expect(result).toBe('row-1');
    expect(order).toEqual(['db', 'cache']);
    expect(await cache.get('user:1')).toEqual({ name: 'Ada' });
  });

  test('leaves the cache untouched when the database write fails', async () => {
    const cache = createCache({ store: new TestStore() });
    await cache.set('user:1', 'old');
    await expect(
      cache.writeThrough('user:1', 'new', async () => Promise.reject(new Error('constraint'))),
    ).rejects.toThrow('constraint');
    expect(await cache.get('user:1')).toBe('old');
  });

  test('deletes the key when the cache write fails, so the old value is never served', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cache.set('user:1', 'old');
    const realSet = store.set.bind(store);
    store.set = () => {
      throw new Error('write refused');
    };
    await cache.writeThrough('user:1', 'new', async () => 'ok');
    store.set = realSet;
    expect(store.data.has('user:1')).toBe(false);
    expect(cache.stats().droppedWrites).toBe(1);
  });

  test('rejects with CacheInconsistencyError when the cache can neither write nor delete', async () => {
    const store = new TestStore();
    const cache = createCache({ store });
    await cache.set('user:1', 'old');
    store.down = true;
    const error = await cache.writeThrough('user:1', 'new', async () => 'ok').catch((e) => e);
    expect(error).toBeInstanceOf(CacheInconsistencyError);
    expect(error.key).toBe('user:1');
  });
});

describe('cached() with batch', () => {
  test('the calls of one tick are loaded by one batch call; hits and repeats are not loaded', async () => {
    const cache = createCache({ store: new TestStore({ async: true }) });
    const batch = vi.fn(async (calls: [number][]) =>
      calls.map(([id]) => (id === 4 ? new Error('no user 4') : { id })),
    );
    const findUser = cached(async (id: number) => ({ id }), { cache, name: 'findUser', batch });
    await cache.set('findUser:[1]', { id: 1, cached: true });
    const results = await Promise.allSettled([1, 2, 3, 2, 4].map((id) => findUser(id)));
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason.cause))),
    ).toEqual([{ id: 1, cached: true }, { id: 2 }, { id: 3 }, { id: 2 }, 'Error: no user 4']);
    expect(batch.mock.calls).toEqual([[[[2], [3], [4]]]]);
    await cache.flush();
    expect(await findUser(3)).toEqual({ id: 3 });
    expect(batch).toHaveBeenCalledTimes(1);
  });

  test('batch is rejected on methods and when not a function', () => {
    const cache = createCache({ store: new TestStore() });
    const batch = async () => [];
    expect(() => cachedMethod({ cache, batch })).toThrow(InvalidArgumentError);
    expect(() => cached(async () => 1, { cache, name: 'f', batch: 1 as never })).toThrow(/batch/);
  });
});
