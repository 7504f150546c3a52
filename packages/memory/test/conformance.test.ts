import { jsonSerializer } from '@cache/core';
import { storeTestSuite } from '@cache/test-suite';
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
