import type { CacheEntry } from '@cache/core';
import { SerializationError } from '@cache/core';
import { describe, expect, test } from 'vitest';
import type { RedisStore } from '../src/index.js';

const hour = 3_600_000;

/** An entry valid for an hour, with `extra` metadata. */
export const entry = <V>(value: V, extra: Partial<CacheEntry<V>> = {}): CacheEntry<V> => ({
  value,
  expiresAt: Date.now() + hour,
  ...extra,
});

/**
 * The store contract, run on a single node and on a Cluster until the shared conformance suite
 * (`@cache/test-suite`) exists. `store()` returns an empty store for each test.
 */
export function storeContract(label: string, store: () => RedisStore): void {
  describe(`the CacheStore contract on ${label}`, () => {
    test('a stored entry comes back with its metadata', async () => {
      const stored = entry(
        { name: 'Ada', born: new Date('1815-12-10') },
        {
          staleUntil: Date.now() + 2 * hour,
          tags: ['people', 'math'],
          version: 3,
        },
      );
      await store().set('user:1', stored);
      expect(await store().get('user:1')).toEqual(stored);
    });

    test('a missing key reads as undefined', async () => {
      expect(await store().get('nothing')).toBeUndefined();
    });

    test('null is a value, distinct from a miss', async () => {
      await store().set('empty', entry(null));
      expect(await store().get('empty')).toMatchObject({ value: null });
    });

    test('an entry already past its expiry is not written and replaces the previous one', async () => {
      await store().set('k', entry('old'));
      await store().set('k', entry('new', { expiresAt: Date.now() - 1 }));
      expect(await store().get('k')).toBeUndefined();
    });

    test('getMany, setMany and deleteMany work on many keys at once', async () => {
      await store().setMany([
        ['a', entry('A')],
        ['b', entry('B')],
        ['gone', entry('G', { expiresAt: Date.now() - 1 })],
      ]);
      expect((await store().getMany(['a', 'x', 'b', 'gone'])).map((found) => found?.value)).toEqual(
        ['A', undefined, 'B', undefined],
      );
      expect(await store().deleteMany(['a', 'b', 'x'])).toBe(2);
      expect(await store().getMany(['a', 'b'])).toEqual([undefined, undefined]);
      expect(await store().getMany([])).toEqual([]);
    });

    test('delete says whether the key existed', async () => {
      await store().set('k', entry(1));
      expect(await store().delete('k')).toBe(true);
      expect(await store().delete('k')).toBe(false);
    });

    test('binary, unicode and 1 MB values round-trip', async () => {
      const binary = Buffer.from([0, 1, 2, 253, 254, 255, 0x0a, 0x0d]);
      const bytes = new Uint8Array([9, 8, 7, 0]);
      const unicode = 'héllo, 世界 🚀 \u0000 \n | zero-width\u200b';
      const large = 'x'.repeat(1024 * 1024);
      await store().setMany([
        ['binary', entry(binary)],
        ['bytes', entry(bytes)],
        ['unicode', entry({ [unicode]: unicode })],
        ['large', entry(large)],
        ['clé 🔑', entry('unicode key')],
      ]);
      const [b, u8, u, l, k] = await Promise.all(
        ['binary', 'bytes', 'unicode', 'large', 'clé 🔑'].map((key) => store().get(key)),
      );
      expect(Buffer.isBuffer(b?.value)).toBe(true);
      expect(b?.value).toEqual(binary);
      expect(u8?.value).toEqual(bytes);
      expect(u?.value).toEqual({ [unicode]: unicode });
      expect(l?.value).toBe(large);
      expect(k?.value).toBe('unicode key');
    });

    test('Date, Map, Set, BigInt and undefined inside objects round-trip', async () => {
      const value = {
        at: new Date(0),
        map: new Map([['a', 1]]),
        set: new Set([1, 2]),
        big: 10n ** 20n,
        missing: undefined,
      };
      await store().set('rich', entry(value));
      expect((await store().get('rich'))?.value).toEqual(value);
    });

    test('clear(prefix) treats * ? [ ] in the prefix literally', async () => {
      const keys = ['a*b:1', 'a?b:1', 'a[b]:1', 'axb:1', 'a\\b:1', 'ab:1'];
      await store().setMany(keys.map((key) => [key, entry(key)]));
      await store().clear('a*b');
      await store().clear('a[b]');
      await store().clear('a\\b');
      const left = await store().getMany(keys);
      expect(left.map((found) => found?.value)).toEqual([
        undefined,
        'a?b:1',
        undefined,
        'axb:1',
        undefined,
        'ab:1',
      ]);
    });

    test('a value the serializer cannot encode rejects with a SerializationError', async () => {
      await expect(
        store().set(
          'fn',
          entry(() => 1),
        ),
      ).rejects.toBeInstanceOf(SerializationError);
    });
  });
}
