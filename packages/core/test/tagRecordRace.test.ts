import { describe, expect, test, vi } from 'vitest';
import {
  type CacheEntry,
  createCache,
  type InvalidateOptions,
  mergeTagRecord,
  StoreError,
} from '../src/index.js';
import { TestStore } from './testStore.js';

// Two processes sharing one store that merges tag records: two handles of the same data, so
// that each cache has tag records (and a turn for its invalidations) of its own, as a process does.
function twoProcesses(async: boolean) {
  const data = new Map();
  const first = new TestStore({ async, merge: true }, data);
  const second = new TestStore({ async, merge: true }, data);
  const a = createCache({ store: first, ttl: '1m' });
  const b = createCache({ store: second, ttl: '1m' });
  return { first, a, b };
}

const modes: [string, InvalidateOptions | undefined][] = [
  ['soft', { mode: 'expire' }],
  ['hard', undefined],
];

describe.each([
  ['synchronous', false],
  ['asynchronous', true],
])('over a %s store that merges tag records', (_, async) => {
  test.each(modes)(
    "a %s tag invalidation whose record lands after another process's hard one leaves it in force",
    async (_mode, options) => {
      const { first, a, b } = twoProcesses(async);
      // The first process's record write is held until the second has invalidated the tag hard.
      const resume = first.pause('set');
      const late = a.invalidateTags(['team'], options);
      await vi.waitFor(() => expect(first.held).toBe(1));
      // Written after the first invalidation took its stamp, before the hard one: void.
      await b.set('k', 'between', { tags: ['team'] });
      expect(await b.invalidateTags(['team'])).toBe(true);
      resume();
      expect(await late).toBe(true);
      expect(await a.get('k')).toBeUndefined();
      expect(await b.get('k')).toBeUndefined();
    },
  );
});

describe('mergeTagRecord', () => {
  const until = 1_000;
  test('keeps the later last stamp and the later hard stamp, whichever record holds each', () => {
    // Soft at 30 over hard at 20: the hard one stays in force.
    expect(
      mergeTagRecord(
        { value: 20, expiresAt: until },
        { value: 30, expiresAt: until, createdAt: 0 },
      ),
    ).toEqual({
      value: 30,
      expiresAt: until,
      createdAt: 20,
    });
    // Hard at 20 landing after soft at 30 (which kept hard 10): both stamps kept.
    expect(
      mergeTagRecord(
        { value: 30, expiresAt: until, createdAt: 10 },
        { value: 20, expiresAt: until },
      ),
    ).toEqual({ value: 30, expiresAt: until, createdAt: 20 });
    // An older hard record lands late: nothing is lowered; hard again, no createdAt.
    expect(
      mergeTagRecord({ value: 40, expiresAt: until }, { value: 20, expiresAt: until }),
    ).toEqual({
      value: 40,
      expiresAt: until,
    });
  });

  test('keeps the longer life, and takes a new record as it is over none', () => {
    const record = { value: 5, expiresAt: until, createdAt: 0 };
    expect(mergeTagRecord(undefined, record)).toBe(record);
    expect(
      mergeTagRecord(
        { value: 9, expiresAt: 10, staleUntil: 3 * until },
        { value: 5, expiresAt: until },
      ),
    ).toEqual({ value: 9, expiresAt: 10, staleUntil: 3 * until });
  });
});

test('a soft tag invalidation over a store that merges tag records reads none', async () => {
  const store = new TestStore({ merge: true });
  const cache = createCache({ store, ttl: '1m' });
  await cache.invalidateTags(['team']);
  const reads = store.reads;
  expect(await cache.invalidateTags(['team'], { mode: 'expire' })).toBe(true);
  expect(store.reads).toBe(reads);
});

// C2 over a store that merges tag records and relays invalidations (so the cache keeps what it
// reads of records): a record read while the merge was under way is the one from before it.
test('C2: a tag record read while a merged invalidation is written is not trusted once it landed', async () => {
  const store = new TestStore({ async: true, merge: true });
  const cache = createCache({ store, ttl: '1m' });
  await cache.set('k', 'before', { tags: ['team'] });
  const resume = store.pause('set');
  const invalidation = cache.invalidateTags(['team']);
  await vi.waitFor(() => expect(store.held).toBe(1));
  // Concurrent with the invalidation, either answer is right; it reads the record from before.
  await cache.get('k');
  resume();
  expect(await invalidation).toBe(true);
  expect(await cache.get('k')).toBeUndefined();
});

// C2 when the merge fails while reads still work (Redis refusing writes at maxmemory, a script
// error): the invalidation resolves false and is retried, and meanwhile its own process, which
// keeps what it knows of records, serves nothing it voided, as over a store that does not merge.
test.each(modes)(
  'C2: a %s tag invalidation whose merge failed still holds in its own process',
  async (_mode, options) => {
    const store = new TestStore({ async: true, merge: true });
    const merge = store.mergeTagRecords!;
    let refuse = true;
    (store as { mergeTagRecords: typeof merge }).mergeTagRecords = (
      records: [string, CacheEntry][],
    ) => (refuse ? Promise.reject(new StoreError('test', 'OOM: writes refused')) : merge(records));
    const cache = createCache({ store, ttl: '1m' });
    cache.on('error', () => {});
    await cache.set('k', 'before', { tags: ['team'] });
    expect(await cache.invalidateTags(['team'], options)).toBe(false);
    // Soft too: the entry has no grace, so expired it is gone.
    expect(await cache.get('k')).toBeUndefined();
    refuse = false;
    await cache.close();
  },
);
