// Fences (X1 across processes): a load that read the database before another process's update
// must not store what it read after that process's invalidation. Two caches on one Redis, each
// with its own store and connection, stand for two processes; the database is a variable.
import type { Cache } from '@cache/core';
import { deferred } from '@cache/test-suite';
import { hasRedis } from '@cache-tooling/redis-server';
import { describe, expect, test } from 'vitest';
import type { RedisStore, RedisStoreOptions } from '../src/index.js';
import { RedisClock } from '../src/redisClock.js';
import { useCachePairs, useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();
  const pair = useCachePairs(redis, 'fence');
  const entry = (value: string) => ({ value, expiresAt: Date.now() + 60_000 });

  function twoProcesses(options: RedisStoreOptions = {}): [Cache, Cache, RedisStore] {
    const { caches, stores } = pair(options, { ttl: '1h' });
    return [...caches, stores[0]];
  }

  // a loads `key`, reading the database before b updates it and invalidates with `invalidate`;
  // a's load ends after that. Returns what a's caller got.
  async function loadRacingAnUpdate(
    a: Cache,
    invalidate: () => Promise<unknown>,
  ): Promise<{ answered: string; db: { version: string } }> {
    const db = { version: 'v1' };
    const read = deferred<void>();
    const finish = deferred<void>();
    const loading = a.getOrSet('user:1', async () => {
      const version = db.version;
      read.resolve();
      await finish.promise;
      return version;
    });
    await read.promise;
    db.version = 'v2';
    await invalidate();
    finish.resolve();
    const answered = await loading;
    await a.flush(); // a's write has landed, or was refused
    return { answered, db };
  }

  test.each([
    ['delete', (b: Cache) => b.delete('user:1')],
    ['clear', (b: Cache) => b.clear()],
    ['deletePattern', (b: Cache) => b.deletePattern('user:*')],
    ['soft delete', (b: Cache) => b.delete('user:1', { mode: 'expire' })],
    ['soft clear', (b: Cache) => b.clear({ mode: 'expire' })],
  ])(
    'a load that read before another process’s update and %s does not store its old value',
    async (_, invalidate) => {
      const [a, b, aStore] = twoProcesses();
      const { answered, db } = await loadRacingAnUpdate(a, () => invalidate(b));
      expect(answered).toBe('v1'); // its caller started before the update: v1 is right for it
      // Without the fence, v1 would be served from Redis for the whole hour.
      expect(await b.getOrSet('user:1', async () => db.version)).toBe('v2');
      expect(await a.get('user:1')).toBe('v2');
      expect(aStore.stats().refusedWrites).toBe(1);
    },
  );

  test.each([
    ['set', (b: Cache) => b.set('user:1', 'v2')],
    [
      'setMany',
      (b: Cache) =>
        b.setMany([
          ['user:1', 'v2'],
          ['user:2', 'other'],
        ]),
    ],
  ])(
    'a load that read before another process’s %s does not overwrite the newer value',
    async (_, write) => {
      const [a, b, aStore] = twoProcesses();
      await loadRacingAnUpdate(a, () => write(b));
      expect(await a.get('user:1')).toBe('v2');
      expect(await b.get('user:1')).toBe('v2');
      expect(aStore.stats().refusedWrites).toBe(1);
    },
  );

  test('without fences (fenceTtl: false) the old value lands: what the fence is for', async () => {
    const [a, b] = twoProcesses({ fenceTtl: false });
    await loadRacingAnUpdate(a, () => b.delete('user:1'));
    expect(await b.get('user:1')).toBe('v1');
  });

  test('a process’s own writes never refuse its loads: a load right after its own delete is stored', async () => {
    const [a] = twoProcesses();
    await a.set('user:1', 'v1');
    await a.delete('user:1');
    let loads = 0;
    expect(await a.getOrSet('user:1', async () => `v${++loads}`)).toBe('v1');
    await a.flush();
    expect(await a.getOrSet('user:1', async () => `v${++loads}`)).toBe('v1');
    expect(loads).toBe(1);
  });

  test('a load that lasted longer than fences last stores nothing: nothing can tell what happened meanwhile', async () => {
    const [a, b, aStore] = twoProcesses({ fenceTtl: 200 });
    const finish = deferred<void>();
    const loading = a.getOrSet('user:1', async () => {
      await finish.promise;
      return 'v1';
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    finish.resolve();
    expect(await loading).toBe('v1');
    await a.flush();
    expect(await b.get('user:1')).toBeUndefined();
    expect(aStore.stats().refusedWrites).toBe(1);
  });

  test('when Redis restarts, fenced writes still land, in the order issued', async () => {
    const { caches, stores } = pair({}, { ttl: '1h' });
    const [a, b] = caches;
    const aStore = stores[0];
    await aStore.set('user:1', entry('v1')); // Redis knows the script of writes now
    await redis.server.kill();
    await redis.server.restart(); // it knows no scripts
    // Once both stores reach Redis again (their breakers may be open for a while: b's reads
    // would miss meanwhile)...
    const reaches = (store: RedisStore) =>
      store.get('user:0').then(
        () => true,
        () => false,
      );
    await expect
      .poll(async () => (await reaches(stores[0])) && (await reaches(stores[1])), {
        timeout: 10_000,
      })
      .toBe(true);
    // ...writes and deletes of one tick land in the order issued, fenced.
    await Promise.all([aStore.set('user:1', entry('v3')), aStore.delete('user:1')]);
    expect(await b.get('user:1')).toBeUndefined();
    await Promise.all([aStore.delete('user:1'), aStore.set('user:1', entry('v4'))]);
    expect(await b.get('user:1')).toBe('v4');
    // And a load's write (another script) lands too.
    expect(await a.getOrSet('user:2', async () => 'loaded')).toBe('loaded');
    await a.flush();
    expect(await b.get('user:2')).toBe('loaded');
  });

  test('when Redis forgets its scripts (SCRIPT FLUSH), a fenced write fails once, unrun, then they land again', async () => {
    const [a, b, aStore] = twoProcesses();
    await aStore.set('user:1', entry('v1'));
    await redis.raw.script('FLUSH');
    // It cannot be sent again as text without landing after what was issued since: it did not run.
    await expect(aStore.set('user:1', entry('v2'))).rejects.toThrow(/did not run/);
    expect(await b.get('user:1')).toBe('v1');
    await aStore.set('user:1', entry('v3'));
    expect(await b.get('user:1')).toBe('v3');
    await redis.raw.script('FLUSH');
    expect(await a.getOrSet('user:2', async () => 'loaded')).toBe('loaded');
    await a.flush(); // this load's write failed, unrun
    expect(await a.getOrSet('user:3', async () => 'loaded')).toBe('loaded');
    await a.flush();
    expect(await b.get('user:3')).toBe('loaded');
  });

  test('loads that began after another process’s write are stored', async () => {
    const [a, b] = twoProcesses();
    await b.delete('user:1');
    await new Promise((resolve) => setTimeout(resolve, 50)); // past the clocks' uncertainty
    expect(await a.getOrSet('user:1', async () => 'v2')).toBe('v2');
    await a.flush();
    expect(await b.get('user:1')).toBe('v2');
  });
});

describe('RedisClock', () => {
  test('maps a local moment to a Redis time never later than the true one', () => {
    const clock = new RedisClock();
    expect(clock.known).toBe(false);
    // The Redis clock runs 10 s ahead; replies take 0 to 5 ms to come back.
    const ahead = 10_000;
    for (const [sentAt, latency] of [
      [1_000, 5],
      [2_000, 1],
      [3_000, 3],
    ] as const) {
      clock.observe(sentAt + ahead, sentAt + latency);
    }
    expect(clock.known).toBe(true);
    for (const moment of [0, 2_500, 3_000, 60_000]) {
      const mapped = clock.redisTimeOf(moment);
      expect(mapped).toBeLessThanOrEqual(moment + ahead);
      // The best reading (1 ms late), 1 ms of slack, and 1 ms per second away from that reading.
      expect(mapped).toBeCloseTo(moment + ahead - 2 - Math.abs(moment - 2_001) * 0.001);
    }
  });
});
