// Fences and scripts at their edges (found by review, each failed before its fix): a writer's
// own fencing never hides another's, soft invalidation and loads' writes keep issue order, an
// entry Redis cannot decode is still invalidated, and a script resent after a reconnect never
// runs after the commands issued since.
import { type Cache, createCache } from '@cache/core';
import { deferred } from '@cache/test-suite';
import { startTcpProxy } from '@cache-tooling/postgres-server';
import { hasRedis } from '@cache-tooling/redis-server';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { type RedisStore, type RedisStoreOptions, redisStore } from '../src/index.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
  });
  let run = 0;
  const entry = (value: string, grace = false) => {
    const now = Date.now();
    return grace
      ? { value, expiresAt: now + 60_000, staleUntil: now + 120_000 }
      : { value, expiresAt: now + 60_000 };
  };

  function stores(n: number, options: RedisStoreOptions = {}): RedisStore[] {
    const prefix = `edges:${run++}:`;
    const all = Array.from({ length: n }, () =>
      redisStore({ port: redis.server.port, prefix, ...options }),
    );
    opened.push(...all);
    return all;
  }

  function cacheOf(store: RedisStore): Cache {
    return createCache({ store, ttl: '1h' });
  }

  // a's load of user:1 reads v1, then `between` runs, then the load ends.
  async function racingLoad(a: Cache, between: () => Promise<unknown>): Promise<void> {
    const read = deferred<void>();
    const finish = deferred<void>();
    const loading = a.getOrSet('user:1', async () => {
      read.resolve();
      await finish.promise;
      return 'v1';
    });
    await read.promise;
    await between();
    finish.resolve();
    await loading;
    await a.flush();
  }

  test('a writer’s own pattern delete does not lift another’s clear from its loads', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    const a = cacheOf(aStore);
    const b = cacheOf(bStore);
    await racingLoad(a, async () => {
      await b.clear(); // B: DB updated, everything invalidated
      await a.deletePattern('session:*'); // A deletes something unrelated
    });
    // The load began before B's clear: it must be refused.
    expect(await bStore.get('user:1')).toBeUndefined();
  });

  test('a writer’s delete outside its cache’s write barrier (a multilevel repair) does not lift another’s fence', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    const a = cacheOf(aStore);
    const b = cacheOf(bStore);
    await racingLoad(a, async () => {
      await b.set('user:1', 'v2'); // B: DB updated to v2, cache written
      await aStore.delete('user:1'); // A's repair of an earlier failed delete
    });
    expect((await bStore.get('user:1'))?.value).not.toBe('v1');
  });

  test('expire then set of one key, issued in one tick, leave the set value fresh (issue order)', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await aStore.set('k', entry('v1', true));
    await Promise.all([aStore.expire(['k']), aStore.set('k', entry('v2', true))]);
    const found = await bStore.get('k');
    expect(found?.value).toBe('v2');
    expect(found?.expiresAt).toBeGreaterThan(Date.now());
  });

  test('a soft invalidation of an entry Redis cannot decode (a lone surrogate) invalidates it hard', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await aStore.set('k', entry('broken emoji \uD83D', true));
    const count = await aStore.expire(['k']);
    const found = await bStore.get('k');
    // Either expired (expiresAt 0) or removed; never left fresh.
    expect(found === undefined || found.expiresAt === 0).toBe(true);
    expect(count).toBe(1);
  });

  // A local moment, as core passes a load's start.
  const moment = () => performance.timeOrigin + performance.now();

  test('the loads’ writes of one tick go out as two scripts (the first at once, the rest together), each stored or refused on its own', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await aStore.set('warm', entry('w')); // the store knows the Redis clock
    const since = moment();
    await bStore.delete('k3'); // another writer fences k3 after the loads began
    const commands = aStore.stats().commands;
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    await Promise.all(keys.map((key) => aStore.set(key, entry(`loaded ${key}`), { since })));
    expect(aStore.stats().commands - commands).toBe(2);
    const found = await Promise.all(keys.map(async (key) => (await bStore.get(key))?.value));
    expect(found).toEqual(['loaded k0', 'loaded k1', 'loaded k2', undefined, 'loaded k4']);
    expect(aStore.stats().refusedWrites).toBe(1);
  });

  test.each([
    ['a write', (store: RedisStore) => store.set('k', entry('written')), 'written'],
    ['a delete', (store: RedisStore) => store.delete('k'), undefined],
  ])(
    'a load’s write held back goes out before %s of its key issued after it',
    async (_, after, expected) => {
      const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
      await aStore.set('warm', entry('w')); // the store knows the Redis clock
      const since = moment();
      await Promise.all([
        aStore.set('first', entry('loaded'), { since }), // goes at once; the next is held back
        aStore.set('k', entry('loaded'), { since }),
        after(aStore),
      ]);
      expect((await bStore.get('k'))?.value).toBe(expected);
      expect((await bStore.get('first'))?.value).toBe('loaded');
    },
  );

  test('a read of a key whose load’s write is held back goes out after that write: the store reads what it loaded', async () => {
    // Fails when every read is let past the held writes (reads of other keys are, below).
    const [aStore] = stores(1) as [RedisStore];
    await aStore.set('warm', entry('w')); // the store knows the Redis clock
    const since = moment();
    const [, , , read, readMany] = await Promise.all([
      aStore.set('first', entry('loaded first'), { since }), // goes at once; the next are held back
      aStore.set('k1', entry('loaded k1'), { since }),
      aStore.set('k2', entry('loaded k2'), { since }),
      aStore.get('k1'),
      aStore.getMany(['other', 'k2']),
    ]);
    expect(read?.value).toBe('loaded k1');
    expect(readMany.map((found) => found?.value)).toEqual([undefined, 'loaded k2']);
  });

  test('loads’ writes held back still go out under fake timers', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await aStore.set('warm', entry('w')); // the store knows the Redis clock
    vi.useFakeTimers();
    try {
      const since = moment();
      await Promise.all([
        aStore.set('first', entry('loaded'), { since }), // goes at once; the next is held back
        aStore.set('k', entry('loaded'), { since }),
      ]);
    } finally {
      vi.useRealTimers();
    }
    expect((await bStore.get('k'))?.value).toBe('loaded');
  });

  test('reads of other keys do not send held-back loads’ writes early: the writes of later ticks join them in one script', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await aStore.set('warm', entry('w')); // the store knows the Redis clock
    const since = moment();
    const commands = aStore.stats().commands;
    const writes = [
      aStore.set('k0', entry('loaded k0'), { since }), // goes at once; the next is held back
      aStore.set('k1', entry('loaded k1'), { since }),
      aStore.get('other'), // another key: it goes first, the held write stays held
    ];
    await new Promise((resolve) => process.nextTick(resolve)); // a later tick of the same turn
    writes.push(aStore.set('k2', entry('loaded k2'), { since }));
    await Promise.all(writes);
    // k0's script, the read, and one script for k1 and k2.
    expect(aStore.stats().commands - commands).toBe(3);
    const found = await Promise.all(
      ['k0', 'k1', 'k2'].map(async (key) => (await bStore.get(key))?.value),
    );
    expect(found).toEqual(['loaded k0', 'loaded k1', 'loaded k2']);
  });

  test('loads’ writes held back still go out when the store is closed before they are sent', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await aStore.set('warm', entry('w')); // the store knows the Redis clock
    const since = moment();
    const settled = await Promise.allSettled([
      aStore.set('first', entry('loaded'), { since }), // goes at once; the next is held back
      aStore.set('k', entry('loaded'), { since }),
      aStore.close(),
    ]);
    expect(
      settled.map((result) => (result.status === 'rejected' ? result.reason.code : 'ok')),
    ).toEqual(['ok', 'ok', 'ok']);
    expect((await bStore.get('k'))?.value).toBe('loaded');
  });

  test('a load’s write issued before a delete on a store that does not know the Redis clock yet does not land after it', async () => {
    const [aStore, bStore] = stores(2) as [RedisStore, RedisStore];
    await Promise.all([aStore.set('k', entry('loaded'), { since: moment() }), aStore.delete('k')]);
    expect(await bStore.get('k')).toBeUndefined();
  });

  test('a write resent after a reconnect to a server that forgot its scripts does not land after a later delete', async () => {
    const [aStore, bStore] = stores(2, { timeout: 5_000 }) as [RedisStore, RedisStore];
    await aStore.set('k', entry('v0')); // the script is known now
    const client = aStore.client as import('ioredis').Redis;
    const id = await client.client('ID');
    // Hold writes at the server so the EVALSHA stays in flight.
    await redis.raw.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    const first = aStore.set('k', entry('v1')).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    await redis.raw.script('FLUSH'); // as a failover to a replica (or a restart) would
    await redis.raw.call('CLIENT', 'KILL', 'ID', String(id));
    await new Promise<void>((r) => client.once('ready', () => r()));
    // After the reconnect, this process deletes the key (issued after the write).
    const second = aStore.delete('k');
    await Promise.all([first, second]);
    expect(await bStore.get('k')).toBeUndefined();
  });
  test("a first reading of the Redis clock that timed out while the client connected is taken again once it is ready: the first load's write is stored", async () => {
    const proxy = await startTcpProxy({ port: redis.server.port });
    try {
      await proxy.disconnect();
      const store = redisStore({ port: proxy.port, prefix: `edges:${run++}:`, timeout: 200 });
      opened.push(store);
      // The store reads the clock at once: that reading times out (200 ms) while it connects.
      await new Promise((resolve) => setTimeout(resolve, 400));
      // Not events.once: it rejects on the 'error' of a connection attempt the cut proxy refused.
      const ready = new Promise((resolve) => store.client.once('ready', resolve));
      await proxy.restore();
      await ready;
      const cache = cacheOf(store);
      expect(await cache.getOrSet('k', async () => 'loaded')).toBe('loaded');
      await cache.flush();
      expect(store.stats().refusedWrites).toBe(0);
      expect((await store.get('k'))?.value).toBe('loaded');
    } finally {
      await proxy.close();
    }
  });
});
