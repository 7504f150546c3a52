import { type CacheStore, createCache, type InvalidateOptions } from '@cache/core';
import type { ExpectStatic } from 'vitest';
import { deferred } from './deferred.js';

/** The pieces {@link tagRaceSuite} runs with: the test runner's functions and the stores. */
export interface TagRaceSuiteOptions {
  /** The name of the outer `describe` block, such as `'redisStore'`. */
  name: string;
  /** The runner's `describe`. */
  describe: (name: string, fn: () => void) => void;
  /** The runner's `test`. */
  test: (name: string, fn: () => Promise<void>) => void;
  /** The runner's `expect` (vitest's). */
  expect: ExpectStatic;
  /**
   * Returns two handles of one empty shared store, as two processes would hold them (two
   * `redisStore`s on one server, say; one in-process store may be passed twice). Called before
   * every test; both are closed after it.
   */
  createStores: () => [CacheStore, CacheStore] | Promise<[CacheStore, CacheStore]>;
}

const TAG_RECORDS = '__cache:tag:';
const WRITES = new Set<PropertyKey>(['set', 'setMany', 'mergeTagRecords']);

/**
 * `store` whose first write of a tag record (by `set`, `setMany` or `mergeTagRecords`) waits
 * until `release` is called; `reached` resolves when it is made. A distinct object, so a cache
 * over it keeps tag records of its own even when another cache uses `store` itself.
 */
function holdingRecordWrite(store: CacheStore) {
  const reached = deferred<void>();
  const released = deferred<void>();
  let holding = true;
  const writesRecord = (method: PropertyKey, args: unknown[]) =>
    method === 'set'
      ? String(args[0]).startsWith(TAG_RECORDS)
      : (method === 'setMany' || method === 'mergeTagRecords') &&
        (args[0] as [string][]).some(([key]) => key.startsWith(TAG_RECORDS));
  const held = new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!WRITES.has(property)) return value.bind(target);
      return async (...args: unknown[]) => {
        if (holding && writesRecord(property, args)) {
          holding = false;
          reached.resolve();
          await released.promise;
        }
        return value.apply(target, args);
      };
    },
  });
  return { store: held, reached: reached.promise, release: () => released.resolve() };
}

const MODES: [string, InvalidateOptions | undefined][] = [
  ['soft', { mode: 'expire' }],
  ['hard', undefined],
];

/**
 * Registers the tests of tag invalidations racing between processes over a shared store: the
 * record write of one process's invalidation lands after another process's hard invalidation
 * of the tag, made meanwhile. The hard one must stay in force (entries written before it are
 * void), which takes a store that merges tag records (`CacheStore.mergeTagRecords`): without
 * it, the late write lowers the record. Each race is forced by holding the first write.
 *
 * @example
 * ```ts
 * tagRaceSuite({
 *   name: 'myStore',
 *   describe, test, expect,
 *   createStores: () => [myStore({ url }), myStore({ url })],
 * });
 * ```
 */
export function tagRaceSuite(options: TagRaceSuiteOptions): void {
  const { describe, test, expect } = options;
  describe(options.name, () => {
    for (const [mode, invalidateOptions] of MODES) {
      test(`a ${mode} tag invalidation whose record lands after another process's hard one leaves it in force`, async () => {
        const [first, second] = await options.createStores();
        const held = holdingRecordWrite(first);
        const a = createCache({ store: held.store, ttl: '1m' });
        const b = createCache({ store: second, ttl: '1m' });
        try {
          const late = a.invalidateTags(['team'], invalidateOptions);
          await held.reached;
          // Written after the first invalidation took its stamp, before the hard one: void.
          await a.set('k', 'between', { tags: ['team'] });
          expect(await b.invalidateTags(['team'])).toBe(true);
          held.release();
          expect(await late).toBe(true);
          expect(await a.get('k')).toBeUndefined();
          expect(await b.get('k')).toBeUndefined();
        } finally {
          held.release();
          await Promise.all([a.close(), first === second ? undefined : b.close()]);
        }
      });
    }
  });
}
