import { jsonSerializer } from '@cache/core';
import { storeTestSuite, tagRaceSuite } from '@cache/test-suite';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { memoryStore } from '../src/index.js';

const runner = { describe, test, expect, beforeEach, afterEach };

storeTestSuite({ ...runner, name: 'memoryStore()', createStore: () => memoryStore() });
storeTestSuite({
  ...runner,
  name: 'memoryStore({ clone: true })',
  createStore: () => memoryStore({ clone: true }),
});
storeTestSuite({
  ...runner,
  name: 'memoryStore({ clone: true }).withSerializer(jsonSerializer)',
  createStore: () => memoryStore({ clone: true }).withSerializer!(jsonSerializer),
  capabilities: { richValues: false },
});
storeTestSuite({
  ...runner,
  name: "memoryStore({ policy: 'tinylfu' })",
  createStore: () => memoryStore({ policy: 'tinylfu' }),
});
storeTestSuite({
  ...runner,
  name: "memoryStore({ policy: 'tinylfu', clone: true })",
  createStore: () => memoryStore({ policy: 'tinylfu', clone: true }),
});
storeTestSuite({
  ...runner,
  name: "memoryStore({ policy: 'tinylfu', maxSize, sizeOf })",
  createStore: () =>
    memoryStore({ policy: 'tinylfu', maxSize: 1_000_000, sizeOf: () => 1, maxEntrySize: 10 }),
});

// One store shared by two caches: the suite gives the first its own tag records, as a process has.
for (const clone of [false, true]) {
  tagRaceSuite({
    describe,
    test,
    expect,
    name: `memoryStore({ clone: ${clone} }) shared by two caches`,
    createStores: () => {
      const shared = memoryStore({ clone });
      return [shared, shared];
    },
  });
}
