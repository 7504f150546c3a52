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
 * What the Redis store must also get right beyond `@cache/test-suite` (whose conformance tests
 * run in conformance.test.ts), on a single node and on a Cluster: Buffers, and the characters
 * of its own entry header (`|`, newlines, NUL) inside values. `store()` is an empty store.
 */
export function storeContract(label: string, store: () => RedisStore): void {
  describe(`values on ${label}`, () => {
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
