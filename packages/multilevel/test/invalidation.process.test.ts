// The seed's invalidation patterns on memory L1 + Redis L2 + Redis bus, with two processes.
import type { InvalidationMessage } from '@cache/core';
import { redisEvents } from '@cache/redis';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type InvalidationNode, startNode } from './fixtures/nodes.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let server: RedisServer;
  let raw: Redis;
  const nodes: InvalidationNode[] = [];

  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.port);
  });
  afterEach(async () => {
    // Kill first: a failed assertion must not leave the children running.
    const stopped = nodes.splice(0);
    for (const node of stopped) node.child.kill('SIGKILL');
    await raw.flushall();
    for (const node of stopped) expect(node.errors).toEqual([]);
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  async function twoNodes(): Promise<[InvalidationNode, InvalidationNode]> {
    const pair = await Promise.all([startNode(server.port), startNode(server.port)]);
    nodes.push(...pair);
    return pair;
  }

  const deleting = (key: string) => (m: InvalidationMessage) =>
    m.type === 'delete' && (m.keys ?? []).includes(key);
  const tagRecord = (tag: string) => `__cache:tag:${tag}`;

  describe('tags across two processes', () => {
    test('invalidateTags in A: B serves none of the tagged keys from its L1, and a reload is served again', async () => {
      const [a, b] = await twoNodes();
      await a.send({ cmd: 'set', key: 'product:1', value: 'lamp', tags: ['catalog'] });
      await a.send({ cmd: 'set', key: 'cart:9', value: 'lamp x1', tags: ['cart'] });
      expect(await b.send({ cmd: 'get', key: 'product:1' })).toBe('lamp');
      expect(await b.send({ cmd: 'get', key: 'cart:9' })).toBe('lamp x1');
      expect(await b.send({ cmd: 'inL1', key: 'product:1' })).toBe(true);

      const heard = b.received(deleting(tagRecord('catalog')));
      await a.send({ cmd: 'invalidateTags', tags: ['catalog'] });
      await heard;
      expect(await b.send({ cmd: 'get', key: 'product:1' })).toBeUndefined();
      expect(await b.send({ cmd: 'get', key: 'cart:9' })).toBe('lamp x1');

      // A reload after the invalidation is newer than it: both processes serve it.
      const reloaded = { cmd: 'getOrSet' as const, key: 'product:1', tags: ['catalog'] };
      expect(await a.send({ ...reloaded, value: 'lamp v2' })).toBe('lamp v2');
      expect(await b.send({ ...reloaded, value: 'never loaded' })).toBe('lamp v2');
      expect(await a.send({ cmd: 'get', key: 'product:1' })).toBe('lamp v2');
    });

    test('tag invalidation of 10,000 keys: B stops serving all of them (measured)', async () => {
      const [a, b] = await twoNodes();
      const count = 10_000;
      await a.send({ cmd: 'setItems', count, tag: 'catalog' });
      const warm = await b.send<{ served: number; ms: number }>({ cmd: 'countServed', count });
      expect(warm.served).toBe(count);
      const hot = await b.send<{ served: number; ms: number }>({ cmd: 'countServed', count });
      expect(hot.served).toBe(count);

      const heard = b.received(deleting(tagRecord('catalog')));
      const gone = b.send<{ at: number; rounds: number }>({ cmd: 'pollUntilNoneServed', count });
      const { start, ms } = await a.send<{ start: number; ms: number }>({
        cmd: 'invalidateTags',
        tags: ['catalog'],
      });
      const { at: goneAt, rounds } = await gone;
      const { at: heardAt } = await heard;
      const after = await b.send<{ served: number; ms: number }>({ cmd: 'countServed', count });
      expect(after.served).toBe(0);
      expect(await a.send({ cmd: 'countServed', count })).toMatchObject({ served: 0 });
      console.log(
        [
          `tag invalidation of ${count} keys across 2 processes:`,
          `  B reads all ${count} (getMany, after backfill into its L1): ${hot.ms.toFixed(1)} ms`,
          `  invalidateTags(['catalog']) in A: ${ms.toFixed(2)} ms`,
          `  B serves none of them ${(goneAt - start).toFixed(1)} ms after invalidateTags began (${rounds} read rounds)`,
          `  bus message reached B ${(heardAt - start).toFixed(1)} ms after invalidateTags began`,
          `  B re-reads all ${count} afterwards: 0 served, ${after.ms.toFixed(1)} ms`,
        ].join('\n'),
      );
      // 2.5 s alone; 18 s in a fresh-clone CI, where every package's tests run at once.
    }, 60_000);
  });

  describe('versions across two processes', () => {
    test('the seed VersionedCache: a read for version N never gets another version, in either process', async () => {
      const [a, b] = await twoNodes();
      await a.send({ cmd: 'set', key: 'user:123', value: { name: 'Ada' }, version: 1 });
      expect(await b.send({ cmd: 'get', key: 'user:123', version: 1 })).toEqual({ name: 'Ada' });
      expect(await b.send({ cmd: 'inL1', key: 'user:123' })).toBe(true);
      expect(await b.send({ cmd: 'get', key: 'user:123', version: 2 })).toBeUndefined();

      const heard = b.received(deleting('user:123'));
      await a.send({ cmd: 'set', key: 'user:123', value: { name: 'Ada L.' }, version: 2 });
      await heard;
      expect(await b.send({ cmd: 'get', key: 'user:123', version: 1 })).toBeUndefined();
      expect(await b.send({ cmd: 'get', key: 'user:123', version: 2 })).toEqual({ name: 'Ada L.' });
    });

    test('invalidate() of a versioned namespace in A voids all of it in B’s L1, touching no key', async () => {
      const [a, b] = await twoNodes();
      for (let i = 0; i < 50; i++) {
        await a.send({ cmd: 'set', key: `p${i}`, value: i, ns: 'catalog' });
      }
      const settled = b.received(deleting('cart'));
      await a.send({ cmd: 'set', key: 'cart', value: 'kept' });
      // Once B has heard A's last write, no message about p7 can overlap B's read of it.
      await settled;
      expect(await b.send({ cmd: 'get', key: 'p7', ns: 'catalog' })).toBe(7);
      expect(await b.send({ cmd: 'inL1', key: 'catalog:p7' })).toBe(true);
      const keysBefore = await raw.dbsize();

      const heard = b.received(deleting(tagRecord('__ns:catalog:')));
      await a.send({ cmd: 'invalidateNamespace', ns: 'catalog' });
      await heard;
      // One version record (the store's stamp exists since the cache started), no key touched.
      expect(await raw.dbsize()).toBe(keysBefore + 1);
      expect(await b.send({ cmd: 'get', key: 'p7', ns: 'catalog' })).toBeUndefined();
      expect(await a.send({ cmd: 'get', key: 'p8', ns: 'catalog' })).toBeUndefined();
      expect(await b.send({ cmd: 'get', key: 'cart' })).toBe('kept');
    });
  });

  describe('patterns across two processes', () => {
    test("the seed's *:{user_id}:* in A removes user 123's keys from Redis and from B's L1", async () => {
      const [a, b] = await twoNodes();
      const keys = ['user:123:profile', 'orders:123:recent', 'user:1234:profile', 'user:123'];
      for (const key of keys) await a.send({ cmd: 'set', key, value: key });
      for (const key of keys) expect(await b.send({ cmd: 'get', key })).toBe(key);

      const heard = b.received((m) => m.type === 'pattern');
      expect(await a.send({ cmd: 'deletePattern', pattern: '*:123:*' })).toBe(2);
      expect((await heard).message).toMatchObject({ type: 'pattern', pattern: '*:123:*' });
      expect(await b.send({ cmd: 'inL1', key: 'user:123:profile' })).toBe(false);
      expect(await b.send({ cmd: 'inL1', key: 'user:1234:profile' })).toBe(true);
      for (const [key, value] of keys.map((k, i) => [k, i < 2 ? undefined : k])) {
        expect(await b.send({ cmd: 'get', key: key! }), key).toBe(value);
      }
      expect(await raw.exists('inv:user:123:profile', 'inv:orders:123:recent')).toBe(0);
    });
  });

  describe('event-driven across two processes', () => {
    test('the seed EventDrivenCache: user.updated and user.deleted from a producer reach every L1', async () => {
      const [a, b] = await twoNodes();
      await a.send({ cmd: 'followUserEvents' });
      const keys = ['user:123', 'user_profile:123', 'orders:123:recent', 'user:124'];
      for (const key of keys) await a.send({ cmd: 'set', key, value: key });
      for (const key of keys) expect(await b.send({ cmd: 'get', key })).toBe(key);

      const producer = redisEvents({ port: server.port });
      try {
        const updated = b.received(deleting('user_profile:123'));
        expect(await producer.publish('user.updated', { user_id: 123 })).toBe(1);
        await updated;
        expect(await b.send({ cmd: 'get', key: 'user:123' })).toBeUndefined();
        expect(await b.send({ cmd: 'get', key: 'user_profile:123' })).toBeUndefined();
        expect(await b.send({ cmd: 'get', key: 'orders:123:recent' })).toBe('orders:123:recent');

        const deleted = b.received((m) => m.type === 'pattern');
        await producer.publish('user.deleted', { user_id: 123 });
        expect((await deleted).message.pattern).toBe('*:123:*');
        expect(await b.send({ cmd: 'get', key: 'orders:123:recent' })).toBeUndefined();
        expect(await b.send({ cmd: 'get', key: 'user:124' })).toBe('user:124');
      } finally {
        await producer.close();
      }
    });
  });

  describe('an invalidation while a load of the same key is in flight', () => {
    const invalidations = [
      {
        name: 'delete',
        key: 'user:1',
        run: (b: InvalidationNode) => b.send({ cmd: 'delete', key: 'user:1' }),
        heard: deleting('user:1'),
      },
      {
        name: 'deletePattern',
        key: 'user:1:feed',
        run: (b: InvalidationNode) => b.send({ cmd: 'deletePattern', pattern: '*:1:*' }),
        heard: (m: InvalidationMessage) => m.type === 'pattern',
      },
    ];

    for (const { name, key, run, heard } of invalidations) {
      test(`${name} in B while A loads: neither process serves the pre-invalidation value`, async () => {
        const [a, b] = await twoNodes();
        await a.send({ cmd: 'hold', key });
        const reached = a.received(heard);
        await run(b);
        await reached;
        // A's waiter gets what its loader returned; nobody gets it from the cache afterwards.
        expect(await a.send({ cmd: 'release', key, value: 'before' })).toBe('before');
        expect(await a.send({ cmd: 'get', key })).toBeUndefined();
        expect(await b.send({ cmd: 'get', key })).toBeUndefined();
        expect(await raw.exists(`inv:${key}`)).toBe(0);
      });
    }

    test('invalidateTags in B while A loads: neither process serves the pre-invalidation value', async () => {
      const [a, b] = await twoNodes();
      await a.send({ cmd: 'hold', key: 'report', tags: ['reports'] });
      await b.send({ cmd: 'invalidateTags', tags: ['reports'] });
      // No need to wait for the bus: the load started before the invalidation, so its result is older.
      expect(await a.send({ cmd: 'release', key: 'report', value: 'before' })).toBe('before');
      expect(await a.send({ cmd: 'get', key: 'report' })).toBeUndefined();
      expect(await b.send({ cmd: 'get', key: 'report' })).toBeUndefined();
      const fresh = { cmd: 'getOrSet' as const, key: 'report', tags: ['reports'] };
      expect(await b.send({ ...fresh, value: 'after' })).toBe('after');
      expect(await a.send({ ...fresh, value: 'unused' })).toBe('after');
    });
  });

  describe("soft invalidation ({ mode: 'expire' }) across two processes", () => {
    const failingFallback = { cmd: 'getOrSetFailing' as const, key: 'user:1' };

    // The loader failures a test provoked on purpose, taken off the node's reported errors.
    function expectedLoaderErrors(node: InvalidationNode): void {
      const expected = node.errors.filter((e) => e.includes('"operation":"loader"'));
      expect(expected.every((e) => e.includes('source down'))).toBe(true);
      node.errors.splice(
        0,
        node.errors.length,
        ...node.errors.filter((e) => !expected.includes(e)),
      );
    }

    test.each([
      [
        'delete',
        { cmd: 'delete' as const, key: 'user:1', mode: 'expire' as const },
        deleting('user:1'),
      ],
      [
        'invalidateTags',
        { cmd: 'invalidateTags' as const, tags: ['users'], mode: 'expire' as const },
        deleting(tagRecord('users')),
      ],
      [
        'clear',
        { cmd: 'clear' as const, mode: 'expire' as const },
        (m: InvalidationMessage) => m.type === 'clear',
      ],
    ])(
      '%s in A: B serves the value no more as fresh, only as the fallback of a failing loader',
      async (_, invalidation, message) => {
        const [a, b] = await twoNodes();
        await a.send({ cmd: 'set', key: 'user:1', value: 'Ada', tags: ['users'], grace: '1h' });
        expect(await b.send({ cmd: 'get', key: 'user:1' })).toBe('Ada');
        expect(await b.send({ cmd: 'inL1', key: 'user:1' })).toBe(true);

        const heard = b.received(message);
        await a.send(invalidation);
        await heard;
        for (const node of [a, b]) {
          expect(await node.send({ cmd: 'get', key: 'user:1' })).toBeUndefined();
          expect(await node.send({ cmd: 'entry', key: 'user:1' })).toMatchObject({
            value: 'Ada',
            stale: true,
            invalidated: true,
          });
        }
        expect(await b.send(failingFallback)).toBe('Ada');
        expectedLoaderErrors(b);
        // A loads anew; B reads the new value past its invalidated copy.
        const reload = { cmd: 'getOrSet' as const, key: 'user:1', tags: ['users'] };
        expect(await a.send({ ...reload, value: 'Ada v2' })).toBe('Ada v2');
        expect(await b.send({ cmd: 'get', key: 'user:1' })).toBe('Ada v2');
      },
    );

    test('a hard delete in A after a soft one: B has no fallback left', async () => {
      const [a, b] = await twoNodes();
      await a.send({ cmd: 'set', key: 'user:1', value: 'Ada', grace: '1h' });
      expect(await b.send({ cmd: 'get', key: 'user:1' })).toBe('Ada');
      const soft = b.received(deleting('user:1'));
      await a.send({ cmd: 'delete', key: 'user:1', mode: 'expire' });
      await soft;
      const hard = b.received((m) => deleting('user:1')(m) && m.mode === undefined);
      await a.send({ cmd: 'delete', key: 'user:1' });
      await hard;
      expect(await b.send(failingFallback)).toEqual({ error: 'LoaderError' });
      expectedLoaderErrors(b);
    });
  });
});
