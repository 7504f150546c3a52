import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type CacheEntry,
  createCache,
  InvalidArgumentError,
  jsonSerializer,
  SerializationError,
  StoreError,
} from '@cache/core';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { MemoryStore, memoryStore } from '../src/index.js';

const HOUR = 3_600_000;

function entry<V>(value: V, extra?: Partial<CacheEntry<V>>): CacheEntry<V> {
  return { value, expiresAt: Date.now() + HOUR, ...extra };
}

function keysOf(store: MemoryStore, keys: string[]): string[] {
  return keys.filter((key) => store.get(key) !== undefined);
}

describe('LRU order', () => {
  test('evicts the least recently set key when maxEntries is reached', () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) store.set(key, entry(key));
    expect(store.size).toBe(3);
    expect(keysOf(store, ['a', 'b', 'c', 'd'])).toEqual(['b', 'c', 'd']);
  });

  test('a get makes the key the most recently used', () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) store.set(key, entry(key));
    store.get('a');
    store.set('d', entry('d'));
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.value).toBe('a');
  });

  test('setting an existing key makes it the most recently used without growing', () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) store.set(key, entry(key));
    store.set('a', entry('A'));
    store.set('d', entry('d'));
    expect(store.size).toBe(3);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.value).toBe('A');
  });

  test('keeps exact LRU order through many evictions, deletes and reuse of slots', () => {
    const store = memoryStore({ maxEntries: 50 });
    const model: string[] = []; // least recently used first
    const touch = (key: string) => {
      const at = model.indexOf(key);
      if (at >= 0) model.splice(at, 1);
      model.push(key);
    };
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const key = `k${random(120)}`;
      const action = random(10);
      if (action < 5) {
        store.set(key, entry(key));
        touch(key);
        if (model.length > 50) model.shift();
      } else if (action < 8) {
        const found = store.get(key);
        expect(found?.value).toBe(model.includes(key) ? key : undefined);
        if (found) touch(key);
      } else {
        expect(store.delete(key)).toBe(model.includes(key));
        if (model.includes(key)) model.splice(model.indexOf(key), 1);
      }
    }
    expect(store.size).toBe(model.length);
    // Filling with new keys evicts in the order the model predicts.
    for (let i = 0; i < 50; i++) store.set(`new${i}`, entry(i));
    expect(store.size).toBe(50);
    for (const key of model) expect(store.get(key)).toBeUndefined();
  });

  test('maxEntries 1 holds the last key only', () => {
    const store = memoryStore({ maxEntries: 1 });
    store.set('a', entry(1));
    store.set('b', entry(2));
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')?.value).toBe(2);
    expect(store.size).toBe(1);
  });

  test('grows past its first allocation up to maxEntries', () => {
    const store = memoryStore({ maxEntries: 5000 });
    for (let i = 0; i < 6000; i++) store.set(`key:${i}`, entry(i));
    expect(store.size).toBe(5000);
    expect(store.get('key:999')).toBeUndefined();
    expect(store.get('key:1000')?.value).toBe(1000);
    expect(store.get('key:5999')?.value).toBe(5999);
  });

  test('keys that look like numbers or Object.prototype members are ordinary keys', () => {
    const store = memoryStore();
    for (const key of ['0', '42', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(store.get(key), key).toBeUndefined();
      store.set(key, entry(key));
      expect(store.get(key)?.value, key).toBe(key);
    }
    expect(store.size).toBe(6);
    store.clear('__');
    expect(store.get('__proto__')).toBeUndefined();
    expect(store.size).toBe(5);
  });
});

describe('maxSize', () => {
  const sized = (maxSize: number) =>
    memoryStore({ maxSize, sizeOf: (e) => (e.value as string).length });

  test('evicts least recently used entries until the sizes fit', () => {
    const store = sized(10);
    store.set('a', entry('aaaa'));
    store.set('b', entry('bbbb'));
    store.get('a');
    store.set('c', entry('cccc'));
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.value).toBe('aaaa');
    expect(store.get('c')?.value).toBe('cccc');
  });

  test('counts the new size when a key is replaced', () => {
    const store = sized(10);
    store.set('a', entry('aaaa'));
    store.set('b', entry('bbbb'));
    store.set('a', entry('a'));
    store.set('c', entry('ccccc'));
    expect(store.size).toBe(3);
    store.delete('c');
    store.set('d', entry('dddddd'));
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.value).toBe('a');
  });

  test.each(['lru', 'tinylfu'] as const)(
    '%s: rejects an entry larger than maxSize with a StoreError and keeps the old one',
    (policy) => {
      const store = memoryStore({
        maxSize: 10,
        sizeOf: (e) => (e.value as string).length,
        policy,
      });
      store.set('a', entry('small'));
      expect(() => store.set('a', entry('far too large'))).toThrow(StoreError);
      expect(store.get('a')?.value).toBe('small');
      expect(store.bytes).toBe(5);
    },
  );

  test.each(['lru', 'tinylfu'] as const)(
    '%s: rejects an entry larger than maxEntrySize with a StoreError, keeping the others',
    (policy) => {
      const store = memoryStore({
        maxSize: 100,
        maxEntrySize: 10,
        sizeOf: (e) => (e.value as string).length,
        policy,
      });
      for (const key of ['a', 'b', 'c']) store.set(key, entry(key.repeat(10)));
      expect(() => store.set('a', entry('x'.repeat(11)))).toThrow(/maxEntrySize/);
      expect(() => store.set('huge', entry('x'.repeat(90)))).toThrow(StoreError);
      expect(store.get('huge')).toBeUndefined();
      expect(keysOf(store, ['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
      expect(store.get('a')?.value).toBe('aaaaaaaaaa');
    },
  );

  test.each(['lru', 'tinylfu'] as const)('%s: maxEntrySize works without maxSize', (policy) => {
    const store = memoryStore({
      maxEntrySize: 3,
      sizeOf: (e) => (e.value as string).length,
      policy,
    });
    store.set('a', entry('abc'));
    expect(() => store.set('b', entry('abcd'))).toThrow(StoreError);
    expect(store.size).toBe(1);
    expect(store.get('a')?.value).toBe('abc');
  });

  test('maxEntrySize needs sizeOf', () => {
    const error = catchError(() => memoryStore({ maxEntrySize: 3 }));
    expect((error as InvalidArgumentError).argument).toBe('sizeOf');
    expect(
      (catchError(() => memoryStore({ maxEntrySize: -1, sizeOf: () => 1 })) as InvalidArgumentError)
        .argument,
    ).toBe('maxEntrySize');
  });

  test('a cache reports an entry over maxEntrySize as a dropped write', async () => {
    const cache = createCache({
      store: memoryStore({ maxEntrySize: 5, sizeOf: (e) => JSON.stringify(e.value).length }),
    });
    const errors: unknown[] = [];
    cache.on('error', (event) => errors.push(event));
    await cache.set('big', 'x'.repeat(100));
    expect(await cache.get('big')).toBeUndefined();
    expect(cache.stats().droppedWrites).toBe(1);
    expect(errors).toHaveLength(1);
  });

  test('rejects a size that is not a finite number, 0 or more', () => {
    const store = memoryStore({ maxSize: 10, sizeOf: (e) => e.value as number });
    expect(() => store.set('a', entry(-1))).toThrow(InvalidArgumentError);
    expect(() => store.set('a', entry(Number.NaN))).toThrow(/sizeOf/);
    expect(store.size).toBe(0);
  });
});

describe('expiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('serves an entry until staleUntil, then reclaims it', () => {
    vi.useFakeTimers();
    const store = memoryStore();
    const now = Date.now();
    store.set('key', { value: 1, expiresAt: now + 1000, staleUntil: now + 5000 });
    vi.advanceTimersByTime(2000);
    expect(store.get('key')).toEqual({ value: 1, expiresAt: now + 1000, staleUntil: now + 5000 });
    vi.advanceTimersByTime(3000);
    expect(store.get('key')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  test('keeps an entry that never expires, and one due in 30 days until then, across rebases', () => {
    vi.useFakeTimers();
    const store = memoryStore();
    const day = 24 * HOUR;
    const start = Date.now();
    store.set('forever', entry('f', { expiresAt: Number.POSITIVE_INFINITY }));
    store.set('month', entry('m', { expiresAt: start + 30 * day }));
    store.set('year', entry('y', { expiresAt: start + 365 * day }));
    for (let days = 1; days < 30; days++) {
      vi.setSystemTime(start + days * day);
      expect(keysOf(store, ['forever', 'month', 'year'])).toEqual(['forever', 'month', 'year']);
    }
    vi.setSystemTime(start + 30 * day);
    expect(keysOf(store, ['forever', 'month', 'year'])).toEqual(['forever', 'year']);
    vi.setSystemTime(start + 364 * day);
    expect(keysOf(store, ['forever', 'year'])).toEqual(['forever', 'year']);
    vi.setSystemTime(start + 365 * day);
    expect(keysOf(store, ['forever', 'year'])).toEqual(['forever']);
    vi.setSystemTime(start + 4000 * day);
    expect(store.get('forever')?.value).toBe('f');
  });

  test('without staleUntil, drops the entry at expiresAt', () => {
    vi.useFakeTimers();
    const store = memoryStore();
    store.set('key', entry('v', { expiresAt: Date.now() + 1000 }));
    vi.advanceTimersByTime(999);
    expect(store.get('key')?.value).toBe('v');
    vi.advanceTimersByTime(2);
    expect(store.get('key')).toBeUndefined();
  });

  test('sees time set by a test at once, however often the store was just read', () => {
    vi.useFakeTimers();
    const store = memoryStore();
    store.set('key', entry('v', { expiresAt: Date.now() + 1000 }));
    for (let i = 0; i < 1000; i++) store.get('key');
    vi.setSystemTime(Date.now() + 1000);
    expect(store.get('key')).toBeUndefined();
  });

  test('with real timers, stops serving an entry within milliseconds of its expiry', async () => {
    const store = memoryStore();
    const expiresAt = Date.now() + 40;
    store.set('key', entry('v', { expiresAt }));
    // A burst of reads lets hits share one clock reading; it must not outlive the expiry.
    for (let i = 0; i < 1000; i++) store.get('key');
    while (Date.now() <= expiresAt + 5) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.get('key')).toBeUndefined();
  });

  test('never trusts a reading whose timer was armed under fake setTimeout (Date real)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = memoryStore();
    store.set('key', entry('v', { expiresAt: Date.now() + 30 }));
    expect(store.get('key')?.value).toBe('v');
    vi.useRealTimers();
    const expiresAt = Date.now() + 30;
    while (Date.now() <= expiresAt + 5) await new Promise((resolve) => setTimeout(resolve, 10));
    for (let i = 0; i < 300; i++) store.get('key');
    expect(store.get('key')).toBeUndefined();
  });

  test('sees time set by a test at once when loaded under fake timers', async () => {
    vi.useFakeTimers();
    vi.resetModules();
    const loaded = (await import('../src/index.js')) as typeof import('../src/index.js');
    const store = loaded.memoryStore();
    store.set('key', entry('v', { expiresAt: Date.now() + 1000 }));
    for (let i = 0; i < 1000; i++) store.get('key');
    vi.setSystemTime(Date.now() + 60_000);
    expect(store.get('key')).toBeUndefined();
  });

  test('does not serve an expired entry on the read that moves its expiry base', () => {
    vi.useFakeTimers();
    const store = memoryStore();
    store.set('key', entry('v', { expiresAt: Date.now() + HOUR }));
    vi.setSystemTime(Date.now() + 13 * 24 * HOUR);
    expect(store.get('key')).toBeUndefined();
  });

  test('keeps entries with a TTL longer than 32 bits of milliseconds', () => {
    const store = memoryStore();
    store.set('forever', entry('v', { expiresAt: Number.POSITIVE_INFINITY }));
    store.set('year', entry('v', { expiresAt: Date.now() + 365 * 24 * HOUR }));
    expect(store.get('forever')?.value).toBe('v');
    expect(store.get('year')?.value).toBe('v');
  });

  test('rejects an entry whose expiresAt is not a number', () => {
    const store = memoryStore();
    expect(() => store.set('a', { value: 1, expiresAt: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => store.set('a', { value: 1 } as CacheEntry)).toThrow(/entry/);
  });

  test('keeps no timer that holds the process open', () => {
    // A script that uses the store and then does nothing must exit by itself.
    const script = `
      import { memoryStore } from '@cache/memory';
      const store = memoryStore();
      store.set('a', { value: 1, expiresAt: Date.now() + 3_600_000 });
      if (store.get('a')?.value !== 1) process.exit(2);
    `;
    const result = spawnSync(
      process.execPath,
      ['--conditions=@cache/source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 15_000, encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
  });
});

describe('clone', () => {
  test('without clone, entries are kept by reference and withSerializer is absent', () => {
    const store = memoryStore();
    const value = { n: 1 };
    store.set('a', entry(value));
    expect(store.get('a')?.value).toBe(value);
    expect(store.withSerializer).toBeUndefined();
    expect('withSerializer' in store).toBe(false);
  });

  test('with clone, callers get copies that do not share mutations', () => {
    const store = memoryStore({ clone: true });
    const value = { list: [1, 2], at: new Date(0) };
    store.set('a', entry(value, { tags: ['t'] }));
    value.list.push(3);
    const first = store.get('a')!;
    (first.value as typeof value).list.push(4);
    first.tags!.push('mutated');
    const second = store.get('a')!;
    expect(second.value).toEqual({ list: [1, 2], at: new Date(0) });
    expect(second.tags).toEqual(['t']);
    expect(second.value).not.toBe(first.value);
  });

  test('with clone or sizeOf, an entry already expired just removes the key, unencoded', () => {
    const past = { expiresAt: Date.now() - 1 };
    const cloning = memoryStore({ clone: true });
    cloning.set('a', entry('old'));
    cloning.set('a', entry({ f: () => 1 }, past));
    expect(cloning.get('a')).toBeUndefined();
    const measured: string[] = [];
    const sized = memoryStore({
      maxSize: 10,
      sizeOf: (_, key) => {
        measured.push(key);
        return 100;
      },
    });
    sized.set('a', entry('expired', past));
    expect(measured).toEqual([]);
    expect(sized.size).toBe(0);
  });

  test('with clone, an unserializable value is rejected and the old entry kept', () => {
    const store = memoryStore({ clone: true });
    store.set('a', entry('old'));
    expect(() => store.set('a', entry({ f: () => 1 }))).toThrow(SerializationError);
    expect(store.get('a')?.value).toBe('old');
  });

  test('withSerializer gives a view of the same entries encoded by that serializer', () => {
    const store = memoryStore({ clone: true, maxEntries: 2 });
    const json = store.withSerializer!(jsonSerializer);
    json.set('a', entry({ at: new Date(0) }));
    expect(json.get('a')?.value).toEqual({ at: '1970-01-01T00:00:00.000Z' });
    store.set('b', entry(2));
    store.set('c', entry(3));
    expect(json.get('a')).toBeUndefined();
    expect(json.size).toBe(2);
    store.clear();
    expect(json.size).toBe(0);
  });

  test('withSerializer wraps a serializer failure in a SerializationError', () => {
    const failing = {
      name: 'failing',
      serialize: () => {
        throw new Error('nope');
      },
      deserialize: (text: string) => JSON.parse(text),
    };
    const view = memoryStore({ clone: true }).withSerializer!(failing);
    expect(() => view.set('a', entry(1))).toThrow(SerializationError);
  });
});

describe('options', () => {
  test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 24 + 1, '10' as never])(
    'rejects maxEntries %s with an InvalidArgumentError naming it',
    (maxEntries) => {
      const error = catchError(() => memoryStore({ maxEntries }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('maxEntries');
    },
  );

  test("rejects a policy other than 'lru' and 'tinylfu'", () => {
    const error = catchError(() => memoryStore({ policy: 'lfu' as 'lru' }));
    expect((error as InvalidArgumentError).argument).toBe('policy');
  });

  test('rejects maxSize without sizeOf, and sizeOf without maxSize', () => {
    expect((catchError(() => memoryStore({ maxSize: 10 })) as InvalidArgumentError).argument).toBe(
      'sizeOf',
    );
    expect(
      (catchError(() => memoryStore({ sizeOf: () => 1 })) as InvalidArgumentError).argument,
    ).toBe('maxSize');
  });

  test.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY])('rejects maxSize %s', (maxSize) => {
    const error = catchError(() => memoryStore({ maxSize, sizeOf: () => 1 }));
    expect((error as InvalidArgumentError).argument).toBe('maxSize');
  });

  test('defaults to 10,000 entries', () => {
    const store = new MemoryStore();
    for (let i = 0; i < 10_001; i++) store.set(`k${i}`, entry(i));
    expect(store.size).toBe(10_000);
    expect(store.get('k0')).toBeUndefined();
  });
});

describe('batch methods answer synchronously', () => {
  test('getMany, setMany, deleteMany and clear return plain values', () => {
    const store = memoryStore();
    expect(store.setMany([['a', entry(1)]])).toBeUndefined();
    expect(store.getMany(['a', 'b']).map((e) => e?.value)).toEqual([1, undefined]);
    expect(store.deleteMany(['a', 'b'])).toBe(1);
    expect(store.clear()).toBeUndefined();
    expect(store.get('a')).toBeUndefined();
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
