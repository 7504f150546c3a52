import { describe, expect, test, vi } from 'vitest';
import { createCache, type InvalidateOptions } from '../src/index.js';
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
