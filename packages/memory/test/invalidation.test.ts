// The seed's invalidation patterns through createCache on a memory store.
import { EventEmitter } from 'node:events';
import { createCache, fromEventEmitter } from '@cache/core';
import { deferred } from '@cache/test-suite';
import { describe, expect, test, vi } from 'vitest';
import { memoryStore } from '../src/index.js';

describe('invalidation on a memory store', () => {
  test('the seed EventDrivenCache: user.updated deletes keys, user.deleted deletes *:{user_id}:*', async () => {
    const cache = createCache({ store: memoryStore() });
    const events = new EventEmitter();
    await cache.invalidateOn(fromEventEmitter(events), {
      'user.updated': (e: { user_id: number }) => [
        `user:${e.user_id}`,
        `user_profile:${e.user_id}`,
      ],
      'user.deleted': (e: { user_id: number }) => ({ patterns: [`*:${e.user_id}:*`] }),
    });
    const keys = ['user:123', 'user_profile:123', 'orders:123:recent', 'user:124'];
    for (const key of keys) await cache.set(key, key);
    const deleted = new Promise((resolve) => cache.once('delete', resolve));
    events.emit('user.updated', { user_id: 123 });
    await deleted;
    expect(await cache.getMany(keys)).toEqual([
      undefined,
      undefined,
      'orders:123:recent',
      'user:124',
    ]);
    const invalidated = new Promise((resolve) => cache.once('invalidate', resolve));
    events.emit('user.deleted', { user_id: 123 });
    expect(await invalidated).toMatchObject({ pattern: '*:123:*' });
    expect(await cache.getMany(keys)).toEqual([undefined, undefined, undefined, 'user:124']);
  });

  test('tags: invalidateTags voids the tagged entries; a reload is served again', async () => {
    const cache = createCache({ store: memoryStore() });
    await cache.set('product:1', 'lamp', { tags: ['catalog'] });
    await cache.set('cart:9', 'lamp x1', { tags: ['cart'] });
    await cache.invalidateTags(['catalog']);
    expect(await cache.getMany(['product:1', 'cart:9'])).toEqual([undefined, 'lamp x1']);
    expect(await cache.getOrSet('product:1', () => 'lamp v2', { tags: ['catalog'] })).toBe(
      'lamp v2',
    );
    expect(await cache.get('product:1')).toBe('lamp v2');
  });

  test('tags: an invalidation while a load runs keeps the loaded value out', async () => {
    const cache = createCache({ store: memoryStore() });
    const gate = deferred<string>();
    const pending = cache.getOrSet('report', () => gate.promise, { tags: ['reports'] });
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    await cache.invalidateTags(['reports']);
    gate.resolve('before');
    expect(await pending).toBe('before');
    expect(await cache.get('report')).toBeUndefined();
  });

  test('the seed VersionedCache: a read for version N never gets another version', async () => {
    const cache = createCache({ store: memoryStore() });
    await cache.set('user:123', { name: 'Ada' }, { version: 1 });
    expect(await cache.get('user:123', { version: 1 })).toEqual({ name: 'Ada' });
    expect(await cache.get('user:123', { version: 2 })).toBeUndefined();
    await cache.set('user:123', { name: 'Ada L.' }, { version: 2 });
    expect(await cache.get('user:123', { version: 1 })).toBeUndefined();
  });

  test('a versioned namespace is invalidated in O(1): no key is touched', async () => {
    const store = memoryStore();
    const cache = createCache({ store });
    const catalog = cache.namespace('catalog', { versioned: true });
    await catalog.setMany(Array.from({ length: 100 }, (_, i) => [String(i), i]));
    const size = store.size;
    await catalog.invalidate();
    expect(store.size).toBe(size + 1);
    expect(await catalog.getMany(['0', '99'])).toEqual([undefined, undefined]);
  });

  test("deletePattern: the seed's *:{user_id}:* and a load in flight of a matching key", async () => {
    const cache = createCache({ store: memoryStore() });
    const keys = ['user:123:profile', 'orders:123:recent', 'user:1234:profile', 'user:123'];
    for (const key of keys) await cache.set(key, key);
    const gate = deferred<string>();
    const pending = cache.getOrSet('feed:123:top', () => gate.promise);
    await vi.waitFor(() => expect(cache.stats().inflight).toBe(1));
    expect(await cache.deletePattern('*:123:*')).toBe(2);
    gate.resolve('before');
    await pending;
    expect(await cache.getMany([...keys, 'feed:123:top'])).toEqual([
      undefined,
      undefined,
      'user:1234:profile',
      'user:123',
      undefined,
    ]);
  });
});
