import type { CacheStore } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { redisStore } from '@cache/redis';
import { hasRedis } from '@cache-tooling/redis-server';
import { keyvApiTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { toKeyv } from '../src/index.js';
import { redisOfFile } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  // Keyv's own published suite, run against our stores behind toKeyv(). Keyv's suite calls the
  // factory for every Keyv it builds, so each call returns a new adapter (Keyv sets the adapter's
  // namespace) over the one store of the block.
  //
  // keyvIteratorTests is not run: Keyv offers `iterator()` only over adapters it knows to be
  // iterable (Map, SQL, Mongo, Redis, Valkey, etcd), and the CacheStore contract has no way to list
  // keys, so toKeyv() cannot provide one. The last test of this file pins that down.

  const redis = redisOfFile();
  const open: CacheStore[] = [];

  function keyvSuites(name: string, createStore: () => CacheStore): void {
    describe(name, () => {
      let store: CacheStore;
      beforeAll(() => {
        store = createStore();
        open.push(store);
      });
      const adapter = () => toKeyv(store);
      describe('keyvApiTests', () => keyvApiTests(vitest, Keyv, adapter));
      describe('keyvValueTests', () => keyvValueTests(vitest, Keyv, adapter));
      describe('keyvNamespaceTests', () => keyvNamespaceTest(vitest, Keyv, adapter));
    });
  }

  afterAll(async () => {
    await Promise.all(open.map((store) => store.close?.()));
  });

  keyvSuites('toKeyv(memoryStore())', () => memoryStore());
  keyvSuites('toKeyv(redisStore())', () =>
    redisStore({ port: redis.server().port, prefix: 'suite:redis:' }),
  );
  keyvSuites('toKeyv(multilevel([memoryStore(), redisStore()]))', () =>
    multilevel({
      tiers: [
        memoryStore(),
        redisStore({ port: redis.server().port, prefix: 'suite:multilevel:' }),
      ],
    }),
  );

  test('Keyv offers no iterator over a @cache store, rather than one that lists nothing', () => {
    const keyv = new Keyv({ store: toKeyv(memoryStore()) });
    expect(keyv.iterator).toBeUndefined();
  });
});
