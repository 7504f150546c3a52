import type { CacheEntry, CacheStore } from '@cache/core';
import type { ExpectStatic } from 'vitest';

type Hook = (fn: () => unknown) => void;

/** What a store can do beyond the required methods; each defaults to `true`. */
export interface StoreCapabilities {
  /** The store implements `getMany`, `setMany` and `deleteMany`. @default true */
  many?: boolean;
  /**
   * Date, Map, Set, BigInt, typed arrays and `undefined` inside objects come back equal (a store
   * keeping live values, or one serializing with the default serializer). @default true
   */
  richValues?: boolean;
  /** The store implements `deletePattern` (Redis-style globs over its keys). @default true */
  deletePattern?: boolean;
  /** The store implements `expire` and `expirePrefix` (soft invalidation). @default true */
  expire?: boolean;
  /** The store implements `mergeTagRecords` (tag records merged, never lowered). @default true */
  mergeTagRecords?: boolean;
}

/** The pieces {@link storeTestSuite} runs with: the test runner's functions and the store. */
export interface StoreTestSuiteOptions {
  /** The name of the outer `describe` block, such as `'memoryStore'`. */
  name: string;
  /** The runner's `describe`. */
  describe: (name: string, fn: () => void) => void;
  /** The runner's `test`. */
  test: (name: string, fn: () => Promise<void>) => void;
  /** The runner's `expect` (vitest's). */
  expect: ExpectStatic;
  /** The runner's `beforeEach`. */
  beforeEach: Hook;
  /** The runner's `afterEach`. */
  afterEach: Hook;
  /**
   * Returns the store under test. Called before every test; the suite clears the store first
   * and closes it (when it has `close`) after the test.
   */
  createStore: () => CacheStore | Promise<CacheStore>;
  /** What the store supports beyond the contract's required methods. */
  capabilities?: StoreCapabilities;
}

const MINUTE = 60_000;
// A tag record of `@cache/core`: keys under `__cache:` belong to the cache, not to its users.
const RECORD = '__cache:tag:user:123:x';

/** An entry fresh for a minute. */
function fresh<V>(value: V, extra?: Partial<CacheEntry<V>>): CacheEntry<V> {
  return { value, expiresAt: Date.now() + MINUTE, ...extra };
}

/** A tag record of `@cache/core` (see its `mergeTagRecord`): `createdAt` is the last hard stamp. */
function record(value: number, expiresAt: number, createdAt?: number): CacheEntry {
  return createdAt === undefined ? { value, expiresAt } : { value, expiresAt, createdAt };
}

/**
 * Registers the conformance tests of the {@link CacheStore} contract: every store runs them with
 * its own `createStore`. Results are awaited whether the store answers synchronously or not, and
 * expiry is tested with entries whose times are already past, so nothing sleeps.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe, expect, test } from 'vitest';
 *
 * storeTestSuite({
 *   name: 'myStore',
 *   describe, test, expect, beforeEach, afterEach,
 *   createStore: () => myStore(),
 *   capabilities: { deletePattern: false },
 * });
 * ```
 */
export function storeTestSuite(options: StoreTestSuiteOptions): void {
  const { describe, test, expect, beforeEach, afterEach, createStore } = options;
  const { many = true, richValues = true, deletePattern = true } = options.capabilities ?? {};
  const { expire = true, mergeTagRecords = true } = options.capabilities ?? {};
  let store: CacheStore;

  describe(options.name, () => {
    beforeEach(async () => {
      store = await createStore();
      await store.clear();
    });
    afterEach(async () => {
      await store.close?.();
    });

    test('has a name', async () => {
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
    });

    test('get of a missing key gives undefined', async () => {
      expect(await store.get('missing')).toBeUndefined();
    });

    test('set then get round-trips strings, numbers, booleans, null, arrays and objects', async () => {
      const values: [string, unknown][] = [
        ['string', 'hello'],
        ['empty string', ''],
        ['integer', 42],
        ['zero', 0],
        ['float', -1.5],
        ['true', true],
        ['false', false],
        ['null', null],
        ['array', [1, 'two', { three: 3 }]],
        ['object', { id: 7, name: 'Ada', nested: { list: [1, 2], flag: false } }],
      ];
      for (const [key, value] of values) await store.set(key, fresh(value));
      for (const [key, value] of values) {
        expect((await store.get(key))?.value, key).toEqual(value);
      }
    });

    test('keeps expiresAt, staleUntil, tags, version and createdAt', async () => {
      const now = Date.now();
      // createdAt may be fractional: the cache nudges it by a microsecond within a millisecond.
      const numbered = {
        value: 1,
        expiresAt: now + MINUTE,
        tags: ['users', 'user:1'],
        version: 3,
        createdAt: now - 0.999,
      };
      const named = {
        value: 2,
        expiresAt: now + MINUTE,
        staleUntil: now + 2 * MINUTE,
        version: 'v2',
      };
      const createdOnly = { value: { n: 3 }, expiresAt: now + MINUTE, createdAt: now + 0.001 };
      await store.set('numbered', numbered);
      await store.set('named', named);
      await store.set('createdOnly', createdOnly);
      expect(await store.get('numbered')).toEqual(numbered);
      expect(await store.get('named')).toEqual(named);
      expect(await store.get('createdOnly')).toEqual(createdOnly);
    });

    test('round-trips unicode keys and values', async () => {
      const pairs: [string, string][] = [
        ['ключ:значение', 'привет мир'],
        ['キー', '値と絵文字 😀👍🏽'],
        ['emoji:🔑', '🇫🇷 façade naïve'],
        ['space and\ttab', 'line\nbreak'],
      ];
      for (const [key, value] of pairs) await store.set(key, fresh(value));
      for (const [key, value] of pairs) expect((await store.get(key))?.value, key).toBe(value);
    });

    test('round-trips a 1 MB value', async () => {
      const big = 'x'.repeat(1024 * 1024 - 7) + 'the end';
      await store.set('big', fresh(big));
      const back = (await store.get('big'))?.value as string | undefined;
      expect(back?.length).toBe(big.length);
      expect(back === big).toBe(true);
    });

    if (richValues) {
      test('round-trips Date, Map, Set, BigInt, Uint8Array and undefined inside objects', async () => {
        const value = {
          at: new Date('2026-01-02T03:04:05.678Z'),
          map: new Map<string, unknown>([['a', { b: 1 }]]),
          set: new Set(['x', 'y']),
          big: 12345678901234567890n,
          bytes: new Uint8Array([0, 127, 255]),
          missing: undefined,
        };
        const createdAt = Date.now() + 0.002;
        await store.set('rich', fresh(value, { tags: ['t'], createdAt }));
        const entry = await store.get('rich');
        expect(entry?.createdAt).toBe(createdAt);
        expect(entry?.tags).toEqual(['t']);
        const back = entry?.value as typeof value;
        expect(back).toEqual(value);
        expect(back.at).toBeInstanceOf(Date);
        expect(back.map).toBeInstanceOf(Map);
        expect('missing' in back).toBe(true);
      });
    }

    test('set replaces the entry of an existing key', async () => {
      await store.set('key', fresh('first', { tags: ['a'] }));
      const second = fresh('second');
      await store.set('key', second);
      expect(await store.get('key')).toEqual(second);
    });

    test('delete gives true for a present key and false for a missing one', async () => {
      await store.set('key', fresh(1));
      expect(await store.delete('key')).toBe(true);
      expect(await store.get('key')).toBeUndefined();
      expect(await store.delete('key')).toBe(false);
      expect(await store.delete('never-set')).toBe(false);
    });

    test('an entry past expiresAt with no staleUntil is not returned', async () => {
      await store.set('expired', { value: 1, expiresAt: Date.now() - 1000 });
      expect(await store.get('expired')).toBeUndefined();
    });

    test('an entry past expiresAt but within staleUntil is returned', async () => {
      const now = Date.now();
      const stale = { value: 'stale', expiresAt: now - 1000, staleUntil: now + MINUTE };
      await store.set('stale', stale);
      expect(await store.get('stale')).toEqual(stale);
    });

    test('an entry past staleUntil is not returned', async () => {
      const now = Date.now();
      await store.set('gone', { value: 1, expiresAt: now - 2000, staleUntil: now - 1000 });
      expect(await store.get('gone')).toBeUndefined();
    });

    test('an expired entry replaces a fresh one', async () => {
      await store.set('key', fresh(1));
      await store.set('key', { value: 2, expiresAt: Date.now() - 1000 });
      expect(await store.get('key')).toBeUndefined();
    });

    test('clear() removes every key', async () => {
      await store.set('a', fresh(1));
      await store.set('b:c', fresh(2));
      await store.clear();
      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('b:c')).toBeUndefined();
    });

    test('clear(prefix) removes only the keys starting with the prefix', async () => {
      const keys = ['user:1:profile', 'user:1:posts', 'user:10:profile', 'user:2:profile', 'users'];
      for (const key of keys) await store.set(key, fresh(key));
      await store.clear('user:1:');
      expect(await store.get('user:1:profile')).toBeUndefined();
      expect(await store.get('user:1:posts')).toBeUndefined();
      for (const key of ['user:10:profile', 'user:2:profile', 'users']) {
        expect((await store.get(key))?.value, key).toBe(key);
      }
    });

    test('clear(prefix) takes glob characters and backslashes literally', async () => {
      const keys = ['g*:1', 'gx:1', 'g?:1', 'g[ab]:1', 'ga:1', 'g\\:1', 'g\\x:1', 'h*:1'];
      for (const key of keys) await store.set(key, fresh(key));
      await store.clear('g*');
      await store.clear('g?');
      await store.clear('g[ab]');
      await store.clear('g\\:');
      for (const key of ['g*:1', 'g?:1', 'g[ab]:1', 'g\\:1']) {
        expect(await store.get(key), key).toBeUndefined();
      }
      for (const key of ['gx:1', 'ga:1', 'g\\x:1', 'h*:1']) {
        expect((await store.get(key))?.value, key).toBe(key);
      }
    });

    test('clear(prefix) spares the reserved `__cache:` keys, even under a prefix that covers them', async () => {
      const removed = ['_x', '__cache', '__cache-tag', '__cache_tag:user:123:x'];
      for (const key of [RECORD, ...removed]) await store.set(key, fresh(key));
      await store.clear('__cache:');
      expect((await store.get(RECORD))?.value).toBe(RECORD);
      await store.clear('_');
      for (const key of removed) expect(await store.get(key), key).toBeUndefined();
      expect((await store.get(RECORD))?.value).toBe(RECORD);
    });

    test("clear() without a prefix, or with '', removes the reserved `__cache:` keys too", async () => {
      for (const clear of [() => store.clear(), () => store.clear('')]) {
        await store.set(RECORD, fresh(RECORD));
        await store.set('user:123:profile', fresh(1));
        await clear();
        expect(await store.get(RECORD)).toBeUndefined();
        expect(await store.get('user:123:profile')).toBeUndefined();
      }
    });

    if (deletePattern) {
      test("deletePattern('*:123:*') removes the seed's related keys of user 123 and no others", async () => {
        const related = ['user:123:profile', 'orders:123:recent', 'user_profile:123:'];
        const others = ['user:1234:profile', 'user:12:3', 'user:123', '123:x', 'user:0123:a'];
        for (const key of [...related, ...others]) await store.set(key, fresh(key));
        expect(await store.deletePattern!('*:123:*')).toBe(related.length);
        for (const key of related) expect(await store.get(key), key).toBeUndefined();
        for (const key of others) expect((await store.get(key))?.value, key).toBe(key);
      });

      test('deletePattern spares the reserved `__cache:` keys and does not count them', async () => {
        const related = ['user:123:profile', '__cache_tag:user:123:x'];
        const others = ['user:1', '__cache'];
        for (const key of [RECORD, ...related, ...others]) await store.set(key, fresh(key));
        expect(await store.deletePattern!('*:123:*')).toBe(related.length);
        for (const key of related) expect(await store.get(key), key).toBeUndefined();
        expect((await store.get(RECORD))?.value).toBe(RECORD);
        expect(await store.deletePattern!('__cache:*')).toBe(0);
        expect(await store.deletePattern!('*')).toBe(others.length);
        for (const key of others) expect(await store.get(key), key).toBeUndefined();
        expect((await store.get(RECORD))?.value).toBe(RECORD);
      });

      test('deletePattern matches whole keys: `*` any run, `?` exactly one character, `[...]` a set', async () => {
        const keys = ['user:1', 'user:22', 'users:1', 'xuser:1', 'user:a', 'user:b'];
        for (const key of keys) await store.set(key, fresh(key));
        expect(await store.deletePattern!('user:?')).toBe(3);
        expect(await store.deletePattern!('user:[ab]')).toBe(0);
        expect(await store.deletePattern!('nothing:*')).toBe(0);
        for (const key of ['user:1', 'user:a', 'user:b']) {
          expect(await store.get(key), key).toBeUndefined();
        }
        for (const key of ['user:22', 'users:1', 'xuser:1']) {
          expect((await store.get(key))?.value, key).toBe(key);
        }
        expect(await store.deletePattern!('user[s:]*')).toBe(2);
        expect((await store.get('xuser:1'))?.value).toBe('xuser:1');
      });

      test('deletePattern takes escaped glob characters in keys literally', async () => {
        const keys = ['a*b:1', 'axb:1', 'a?:1', 'a1:1', 'a[1]:1', 'a\\b:1', 'a\\:1'];
        for (const key of keys) await store.set(key, fresh(key));
        expect(await store.deletePattern!('a\\*b:*')).toBe(1); // only 'a*b:1'
        expect(await store.deletePattern!('a\\?:*')).toBe(1); // only 'a?:1'
        expect(await store.deletePattern!('a\\[1\\]:*')).toBe(1); // only 'a[1]:1'
        expect(await store.deletePattern!('a\\\\b:*')).toBe(1); // only 'a\\b:1'
        for (const key of ['a*b:1', 'a?:1', 'a[1]:1', 'a\\b:1']) {
          expect(await store.get(key), key).toBeUndefined();
        }
        for (const key of ['axb:1', 'a1:1', 'a\\:1']) {
          expect((await store.get(key))?.value, key).toBe(key);
        }
      });
    }

    if (expire) {
      test('expire sets expiresAt to SOFT_EXPIRED (0) and keeps the rest; without staleUntil it removes the key', async () => {
        const now = Date.now();
        const graced = {
          value: { id: 1 },
          expiresAt: now + MINUTE,
          staleUntil: now + 2 * MINUTE,
          tags: ['users'],
          version: 2,
          createdAt: now - 0.5,
        };
        await store.set('graced', graced);
        await store.set('bare', fresh('bare'));
        await store.set('other', {
          value: 'other',
          expiresAt: now + MINUTE,
          staleUntil: now + 2 * MINUTE,
        });
        expect(await store.expire!(['graced', 'bare', 'missing'])).toBe(2);
        expect(await store.get('graced')).toEqual({ ...graced, expiresAt: 0 });
        expect(await store.get('bare')).toBeUndefined();
        expect((await store.get('other'))?.expiresAt).toBe(now + MINUTE);
        // Expiring again changes nothing.
        expect(await store.expire!(['graced'])).toBe(1);
        expect(await store.get('graced')).toEqual({ ...graced, expiresAt: 0 });
      });

      test('expirePrefix expires the keys under the prefix, never the reserved `__cache:` keys', async () => {
        const later = Date.now() + 2 * MINUTE;
        const under = ['user:1', 'user:2:profile'];
        const others = ['users:1', 'order:1', 'use'];
        for (const key of [...under, ...others, RECORD]) {
          await store.set(key, fresh(key, { staleUntil: later }));
        }
        await store.set('user:bare', fresh('bare'));
        await store.expirePrefix!('user:');
        for (const key of under) expect((await store.get(key))?.expiresAt, key).toBe(0);
        expect(await store.get('user:bare')).toBeUndefined();
        for (const key of [...others, RECORD]) {
          expect((await store.get(key))?.expiresAt, key).toBeGreaterThan(0);
        }
        await store.expirePrefix!('');
        for (const key of [...under, ...others]) {
          expect((await store.get(key))?.value, key).toBe(key);
          expect((await store.get(key))?.expiresAt, key).toBe(0);
        }
        expect((await store.get(RECORD))?.expiresAt).toBeGreaterThan(0);
      });
    }

    if (mergeTagRecords) {
      test('mergeTagRecords keeps the later stamp of each kind, whatever order records land in', async () => {
        const until = Date.now() + MINUTE;
        const merge = (value: number, createdAt?: number) =>
          store.mergeTagRecords!([[RECORD, record(value, until, createdAt)]]);
        // Fractional stamps, as a store's stamps are, must come back exactly.
        await merge(1764567890123.456, 0);
        expect(await store.get(RECORD)).toEqual(record(1764567890123.456, until, 0));
        await merge(1764567890100.5);
        expect(await store.get(RECORD)).toEqual(record(1764567890123.456, until, 1764567890100.5));
        await merge(1764567890200.25, 0);
        expect(await store.get(RECORD)).toEqual(record(1764567890200.25, until, 1764567890100.5));
        await merge(1764567890150);
        expect(await store.get(RECORD)).toEqual(record(1764567890200.25, until, 1764567890150));
        await merge(1764567890300.125);
        expect(await store.get(RECORD)).toEqual(record(1764567890300.125, until));
        await merge(1764567890250, 0);
        expect(await store.get(RECORD)).toEqual(record(1764567890300.125, until));
      });

      test('mergeTagRecords keeps the longer life, and merges over what set wrote', async () => {
        const now = Date.now();
        const other = `${RECORD}:other`;
        await store.set(RECORD, record(10, now + 2 * MINUTE, 5));
        await store.set(other, record(10, now + MINUTE));
        await store.mergeTagRecords!([
          [RECORD, record(20, now + MINUTE)],
          [other, { ...record(5, now + MINUTE), staleUntil: now + 3 * MINUTE }],
        ]);
        expect(await store.get(RECORD)).toEqual(record(20, now + 2 * MINUTE));
        expect(await store.get(other)).toEqual({
          ...record(10, now + MINUTE),
          staleUntil: now + 3 * MINUTE,
        });
        await store.mergeTagRecords!([]);
      });
    }

    if (many) {
      test('getMany gives one slot per key, in order, undefined for misses', async () => {
        await store.set('a', fresh('A'));
        await store.set('c', fresh('C'));
        await store.set('expired', { value: 'E', expiresAt: Date.now() - 1000 });
        const found = await store.getMany!(['c', 'missing', 'a', 'expired', 'a']);
        expect(found.map((entry) => entry?.value)).toEqual(['C', undefined, 'A', undefined, 'A']);
        expect(await store.getMany!([])).toEqual([]);
      });

      test('setMany stores every entry', async () => {
        const tagged = fresh({ n: 2 }, { tags: ['t'], version: 1 });
        await store.setMany!([
          ['one', fresh(1)],
          ['two', tagged],
          ['three', fresh(null)],
        ]);
        expect((await store.get('one'))?.value).toBe(1);
        expect(await store.get('two')).toEqual(tagged);
        expect((await store.get('three'))?.value).toBeNull();
      });

      test('deleteMany gives how many keys existed', async () => {
        await store.set('a', fresh(1));
        await store.set('b', fresh(2));
        await store.set('c', fresh(3));
        expect(await store.deleteMany!(['a', 'missing', 'c'])).toBe(2);
        expect(await store.get('a')).toBeUndefined();
        expect((await store.get('b'))?.value).toBe(2);
        expect(await store.deleteMany!([])).toBe(0);
      });
    }
  });
}
