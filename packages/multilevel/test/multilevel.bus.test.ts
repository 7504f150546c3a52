import { once } from 'node:events';
import { createCache, RESERVED_PREFIX } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { type RedisStore, redisBus, redisStore } from '@cache/redis';
import { startTcpProxy } from '@cache-tooling/postgres-server';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type MultilevelStore, multilevel } from '../src/index.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let server: RedisServer;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((o) => o.close()));
    await server?.stop();
  });

  async function instance(channel: string, timeout?: number) {
    const l1 = memoryStore();
    const l2: RedisStore = redisStore({ port: server.port, prefix: `${channel}:`, timeout });
    const bus = redisBus({ client: l2.client, channel });
    await bus.subscribe(() => {});
    const store: MultilevelStore = multilevel({ tiers: [l1, l2], bus });
    open.push(store, bus);
    return { l1, l2, bus, store, cache: createCache({ store }) };
  }

  describe('the bus', () => {
    test('a clear in one instance clears the other one’s L1 under the prefix only', async () => {
      const a = await instance('clear');
      const b = await instance('clear');
      await a.cache.set('user:1', 'a');
      await a.cache.set('post:1', 'p');
      await b.cache.get('user:1');
      await b.cache.get('post:1');
      const seen = new Promise((resolve) => b.store.on('invalidate', resolve));
      await a.cache.namespace('user').clear();
      await seen;
      expect(b.l1.get('user:1')).toBeUndefined();
      expect(b.l1.get('post:1')?.value).toBe('p');
    });

    test('after the bus reconnects, L1 is cleared because messages may have been missed', async () => {
      const a = await instance('reconnect');
      await a.cache.set('k', 'v');
      expect(a.l1.get('k')?.value).toBe('v');
      const distrusted = new Promise((resolve) => a.store.on('distrust', resolve));
      await server.kill();
      await server.restart();
      expect(await distrusted).toEqual({ reason: 'bus-reconnect' });
      expect(a.l1.get('k')).toBeUndefined();
      expect(a.store.stats().distrusts).toBe(1);
      // And the instance works again once Redis is back.
      expect(await a.cache.getOrSet('k', async () => 'reloaded')).toBe('reloaded');
    });

    test('while Redis is down, an L1 entry voided by a tag is not served when L1 lost the tag record', async () => {
      const own = await startRedis();
      const l1 = memoryStore();
      const l2 = redisStore({ port: own.port });
      const bus = redisBus({ client: l2.client, channel: 'down' });
      const store = multilevel({ tiers: [l1, l2], bus });
      const cache = createCache({ store, tagRecheck: 1 });
      cache.on('error', () => {});
      try {
        await cache.set('k', 'before', { tags: ['t'] });
        const before = l2.get('k');
        expect(await cache.invalidateTags(['t'])).toBe(true);
        // L1 still holds the voided entry (say, a copy from before), and no longer the record
        // (L1 is bounded and evicted it); then Redis dies.
        l1.set('k', (await before)!);
        await own.kill();
        l1.delete(`${RESERVED_PREFIX}tag:t`);
        await new Promise((resolve) => setTimeout(resolve, 5)); // past tagRecheck
        expect(await cache.get('k')).toBeUndefined();
      } finally {
        await cache.close().catch(() => {});
        await own.stop();
      }
    });

    test('closing the cache closes its bus: the subscriber connection is gone', async () => {
      const a = await instance('close');
      const raw = new Redis(server.port);
      try {
        expect(await raw.call('PUBSUB', 'NUMSUB', 'close')).toEqual(['close', 1]);
        await a.cache.close();
        await expect.poll(() => raw.call('PUBSUB', 'NUMSUB', 'close')).toEqual(['close', 0]);
        await expect(a.bus.publish({ type: 'delete', keys: ['k'] })).rejects.toMatchObject({
          code: 'E_STORE_CLOSED',
        });
      } finally {
        raw.disconnect();
      }
    });
  });

  // The L2 of `store`, with its reads held after Redis answered until `release()`: a read that
  // found the old value, forced to finish after whatever the test does meanwhile.
  function holdReads(l2: RedisStore) {
    const get = l2.get.bind(l2);
    const getMany = l2.getMany.bind(l2);
    let gate: Promise<void> | undefined;
    let open!: () => void;
    let answered!: () => void;
    let read = new Promise<void>((resolve) => (answered = resolve));
    const held = async <T>(found: T): Promise<T> => {
      answered();
      await gate;
      return found;
    };
    l2.get = async (key) => held(await get(key));
    l2.getMany = async (keys) => held(await getMany(keys));
    return {
      /** Holds the next reads; resolves once one of them has its answer from Redis. */
      hold() {
        gate = new Promise((resolve) => (open = resolve));
        read = new Promise((resolve) => (answered = resolve));
        return read;
      },
      release: () => open(),
    };
  }

  describe('soft invalidation over the bus', () => {
    const graced = { grace: '1h' } as const;
    // The next message the instance hears from another one.
    const heard = (store: MultilevelStore) =>
      new Promise((resolve) => {
        const stop = store.on('invalidate', (event) => {
          stop();
          resolve(event);
        });
      });

    test("expire in one instance expires the other one's L1 copy: a fallback, no hit", async () => {
      const a = await instance('soft-delete');
      const b = await instance('soft-delete');
      const written = heard(b.store);
      await a.cache.set('k', 'old', graced);
      await written;
      expect(await b.cache.get('k')).toBe('old');
      expect(b.l1.get('k')?.value).toBe('old');
      const seen = heard(b.store);
      await a.cache.delete('k', { mode: 'expire' });
      expect(await seen).toMatchObject({
        message: { type: 'delete', keys: ['k'], mode: 'expire' },
      });
      expect(b.l1.get('k')).toMatchObject({ value: 'old', expiresAt: 0 });
      expect(await b.cache.get('k')).toBeUndefined();
      const failing = () => Promise.reject(new Error('db down'));
      expect(await b.cache.getOrSet('k', failing)).toBe('old');
      // B backs off its failing loader now; A loads anew, and B reads that past its L1 copy.
      expect(await a.cache.getOrSet('k', async () => 'new')).toBe('new');
      await a.cache.flush();
      expect(await b.cache.get('k')).toBe('new');
    });

    test('a soft clear of a prefix expires the L1 copies under it in the other instance', async () => {
      const a = await instance('soft-clear');
      const b = await instance('soft-clear');
      const written = heard(b.store);
      await a.cache.setMany([
        ['user:1', 'u', graced],
        ['post:1', 'p', graced],
      ]);
      await written;
      await b.cache.get('user:1');
      await b.cache.get('post:1');
      const seen = heard(b.store);
      await a.cache.namespace('user').clear({ mode: 'expire' });
      await seen;
      expect(b.l1.get('user:1')).toMatchObject({ value: 'u', expiresAt: 0 });
      expect(b.l1.get('post:1')?.expiresAt).toBeGreaterThan(0);
      expect((await a.l2.get('user:1'))?.expiresAt).toBe(0);
    });

    test('a receiver that knows only the message type deletes: the soft message is a delete', async () => {
      const a = await instance('soft-old');
      const heard: unknown[] = [];
      const old = redisBus({ port: server.port, channel: 'soft-old' });
      open.push(old);
      await old.subscribe((message) => heard.push(message));
      await a.cache.set('k', 'old', graced);
      await a.cache.delete('k', { mode: 'expire' });
      await a.cache.clear({ mode: 'expire' });
      await expect.poll(() => heard.length).toBe(3);
      // What the set, the soft delete and the soft clear published, as an older process reads
      // them: it drops `keys`, or everything under `prefix`, whatever `mode` says.
      expect(heard).toMatchObject([
        { type: 'delete', keys: ['k'] },
        { type: 'delete', keys: ['k'], mode: 'expire' },
        { type: 'clear', mode: 'expire' },
      ]);
      // A clear of everything has no prefix: an older process then clears its records too, and
      // knows it did (a clear of '' would leave it unaware).
      expect(heard[2]).not.toHaveProperty('prefix');
    });

    test('expire and expirePrefix exist only when every tier has them', () => {
      const both = multilevel({ tiers: [memoryStore(), memoryStore()] });
      const mixed = multilevel({
        tiers: [
          memoryStore(),
          {
            name: 'no-expire',
            get: () => undefined,
            set: () => {},
            delete: () => false,
            clear: () => {},
          },
        ],
      });
      expect(typeof both.expire).toBe('function');
      expect(typeof both.expirePrefix).toBe('function');
      expect(mixed.expire).toBeUndefined();
      expect(mixed.expirePrefix).toBeUndefined();
    });
  });

  describe('a read from L2 that began before a local write', () => {
    const writes: [string, (store: MultilevelStore) => Promise<unknown>, unknown][] = [
      ['set', (store) => store.set('k', { value: 'new', expiresAt: Date.now() + 60_000 }), 'new'],
      [
        'setMany',
        (store) => store.setMany([['k', { value: 'new', expiresAt: Date.now() + 60_000 }]]),
        'new',
      ],
      ['delete', (store) => store.delete('k'), undefined],
      ['deleteMany', (store) => store.deleteMany(['k']), undefined],
      ['clear', (store) => store.clear(), undefined],
      ['deletePattern', (store) => store.deletePattern('k*'), undefined],
    ];
    for (const [name, write, after] of writes) {
      for (const read of ['get', 'getMany'] as const) {
        test(`${read} does not copy the old value into L1 after a local ${name}`, async () => {
          const { l1, l2, store } = await instance(`backfill-${name}-${read}`);
          await store.set('k', { value: 'old', expiresAt: Date.now() + 60_000 });
          await l1.delete('k'); // only L2 holds it now, as after an L1 eviction
          const l2Reads = holdReads(l2);
          const answered = l2Reads.hold();
          const reading = read === 'get' ? store.get('k') : store.getMany(['k']);
          await answered; // Redis has answered 'old'
          await write(store);
          l2Reads.release();
          await reading; // concurrent with the write: either answer is right
          expect(l1.get('k')?.value).toBe(after);
          expect((await store.get('k'))?.value).toBe(after);
        });
      }
    }
  });

  describe('a read from L2 that began during a local delete', () => {
    const deletes: [string, (store: MultilevelStore) => Promise<unknown>][] = [
      ['delete', (store) => store.delete('k')],
      ['clear', (store) => store.clear()],
    ];
    for (const [name, remove] of deletes) {
      test(`does not copy the old value into L1 while the ${name} waits for Redis`, async () => {
        const { l1, l2, store } = await instance(`during-${name}`);
        await store.set('k', { value: 'old', expiresAt: Date.now() + 60_000 });
        // Hold the delete on its way to Redis: L1 is already empty, L2 still holds 'old'.
        const unlink = l2.delete.bind(l2);
        const clear = l2.clear.bind(l2);
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        l2.delete = async (key) => {
          await gate;
          return unlink(key);
        };
        l2.clear = async (prefix) => {
          await gate;
          return clear(prefix);
        };
        const removing = remove(store);
        expect((await store.get('k'))?.value).toBe('old'); // concurrent with the delete
        open();
        await removing;
        expect(l1.get('k')).toBeUndefined();
        expect(await store.get('k')).toBeUndefined();
      });
    }
  });

  describe('tag records over the bus', () => {
    test('a lost bus message hides a tag invalidation for at most tagRecheck + recordTtl', async () => {
      const a = await instance('lost-tag');
      // B: its own L1, a bus that hears everything, short recheck and record caps.
      const l2 = redisStore({ port: server.port, prefix: 'lost-tag:' });
      const bus = redisBus({ client: l2.client, channel: 'lost-tag' });
      const store = multilevel({ tiers: [memoryStore(), l2], bus, recordTtl: '200ms' });
      open.push(store, bus);
      const b = createCache({ store, tagRecheck: '200ms' });
      // A first invalidation, so that B holds the tag's record in its L1 too.
      await a.cache.invalidateTags(['t']);
      await a.cache.set('k', 'v', { tags: ['t'] });
      expect(await b.get('k')).toBe('v');
      // A's invalidation reaches Redis but its message is lost.
      const publish = a.bus.publish.bind(a.bus);
      a.bus.publish = async () => {};
      await a.cache.invalidateTags(['t']);
      a.bus.publish = publish;
      const deadline = Date.now() + 3_000;
      while ((await b.get('k')) !== undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await b.get('k')).toBeUndefined();
    });

    test('a process keeps the records of at most 10,000 tags', async () => {
      // Generous: 1,000 concurrent record reads on a busy machine must not time out (a record
      // that cannot be read makes its entries miss; that is not tested here).
      const { cache } = await instance('many-tags', 10_000);
      const count = 12_000;
      for (let from = 0; from < count; from += 1_000) {
        await Promise.all(
          Array.from({ length: 1_000 }, (_, i) =>
            cache.set(`k${from + i}`, from + i, { tags: [`t${from + i}`] }),
          ),
        );
      }
      for (let from = 0; from < count; from += 1_000) {
        const values = await Promise.all(
          Array.from({ length: 1_000 }, (_, i) => cache.get(`k${from + i}`)),
        );
        expect(values).toEqual(Array.from({ length: 1_000 }, (_, i) => from + i));
      }
      expect(cache.stats().knownTags).toBe(10_000);
    });
  });

  describe("a load's write that lands in Redis after another process's write", () => {
    test('is deleted again everywhere: nobody keeps the old value for its TTL', async () => {
      const a = await instance('late-load');
      const b = await instance('late-load');
      // A's writes to Redis wait at a gate, as a write sent just before B's can land after it.
      const set = a.l2.set.bind(a.l2);
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let writing!: () => void;
      const held = new Promise<void>((resolve) => (writing = resolve));
      a.l2.set = async (key, entry) => {
        writing();
        await gate;
        return set(key, entry);
      };
      // A loads what the database held before B's write and stores it.
      expect(await a.cache.getOrSet('k', async () => 'loaded before the write')).toBe(
        'loaded before the write',
      );
      await held;
      const heard = new Promise((resolve) => a.store.on('invalidate', resolve));
      await b.cache.set('k', 'written');
      await heard; // A heard B's write while its own was under way
      open(); // A's old value lands in Redis over B's
      await a.cache.flush();
      await expect
        .poll(async () => (await b.l2.get('k'))?.value)
        .not.toBe('loaded before the write');
      expect(a.store.stats().racesRedone).toBe(1);
      const c = await instance('late-load');
      expect(await c.cache.get('k')).not.toBe('loaded before the write');
      await expect.poll(() => b.l1.get('k')?.value).not.toBe('loaded before the write');
    });
  });

  describe('a bus whose first subscription fails', () => {
    test('subscribes again until it can, then hears the others (and distrusts its L1)', async () => {
      const own = await startRedis();
      open.push({ close: () => own.stop() });
      await own.kill(); // Redis is down when the store starts
      const l1 = memoryStore();
      const l2 = redisStore({ port: own.port, prefix: 'late:', timeout: 200 });
      const store = multilevel({
        tiers: [l1, l2],
        bus: redisBus({ client: l2.client, channel: 'late', timeout: 200 }),
      });
      open.push(store);
      const failed = new Promise((resolve) =>
        store.on('error', (e) => e.operation === 'subscribe' && resolve(e)),
      );
      await failed;
      await l1.set('k', { value: 'old', expiresAt: Date.now() + 60_000 });
      const distrusted = new Promise((resolve) => store.on('distrust', resolve));
      await own.restart();
      await distrusted;
      expect(l1.get('k')).toBeUndefined();
      await l1.set('j', { value: 'old', expiresAt: Date.now() + 60_000 });
      const other = redisBus({ port: own.port, channel: 'late' });
      open.push(other);
      const heard = new Promise((resolve) => store.on('invalidate', resolve));
      await other.publish({ type: 'delete', keys: ['j'] });
      await heard;
      expect(l1.get('j')).toBeUndefined();
    });
  });

  describe('a publish that fails', () => {
    test('is published again once the bus is back: other processes drop their copy', async () => {
      const proxy = await startTcpProxy({ port: server.port });
      const l2 = redisStore({ port: server.port, prefix: 'outbox:' });
      // A's bus reaches Redis through a proxy that can be cut; its L2 does not.
      const bus = redisBus({ port: proxy.port, channel: 'outbox', timeout: 200 });
      await bus.subscribe(() => {});
      const aStore = multilevel({ tiers: [memoryStore(), l2], bus });
      open.push(aStore, { close: () => proxy.close() });
      const a = createCache({ store: aStore });
      const b = await instance('outbox');
      await a.set('k', 'old');
      expect(await b.cache.get('k')).toBe('old'); // in B's L1 now
      await proxy.disconnect();
      await a.delete('k'); // lands on Redis; its message does not go out
      expect(aStore.stats()).toMatchObject({ publishFailures: 1, pendingPublishes: 1 });
      expect(await b.l2.get('k')).toBeUndefined();
      expect(b.l1.get('k')?.value).toBe('old');
      const invalidated = new Promise((resolve) => b.store.on('invalidate', resolve));
      await proxy.restore();
      await invalidated;
      expect(b.l1.get('k')).toBeUndefined();
      expect(await b.cache.get('k')).toBeUndefined();
      expect(aStore.stats().pendingPublishes).toBe(0);
    });
  });

  describe('a write or delete that fails on Redis', () => {
    test('is repaired once Redis answers again: the old value leaves L2 and other L1s', async () => {
      const a = await instance('repair');
      const b = await instance('repair');
      await a.cache.set('k', 'old');
      expect(await b.cache.get('k')).toBe('old'); // in B's L1 now
      const invalidated = new Promise((resolve) => b.store.on('invalidate', resolve));
      // A's connection drops: its delete fails without reaching Redis (no offline queue).
      a.l2.client.disconnect();
      expect(await a.cache.delete('k')).toBe(false);
      expect(a.store.stats().pendingRepairs).toBe(1);
      expect(await b.l2.get('k')).toMatchObject({ value: 'old' }); // Redis still holds it
      if (a.l2.client.status !== 'end') await once(a.l2.client, 'end');
      await a.l2.client.connect();
      // The repair deletes it from Redis and publishes: B drops its L1 copy. (The failed
      // publish of the delete itself may reach B first.)
      await invalidated;
      await expect.poll(() => a.store.stats().pendingRepairs).toBe(0);
      await expect.poll(() => b.l1.get('k')).toBeUndefined();
      expect(await b.l2.get('k')).toBeUndefined();
      expect(b.l1.get('k')).toBeUndefined();
      expect(await b.cache.get('k')).toBeUndefined();
    });

    test('of a tag record is never repaired by deleting the record: earlier invalidations stay', async () => {
      const a = await instance('repair-tags');
      const b = await instance('repair-tags');
      await a.cache.set('k', 'tagged', { tags: ['t'] });
      await a.cache.invalidateTags(['t']); // its record in Redis voids 'k' for every process
      expect(await b.cache.get('k')).toBeUndefined();
      const record = RESERVED_PREFIX + 'tag:t';
      const held = await b.l2.get(record);
      expect(held).toBeDefined();
      // A's connection drops: its next write of the record fails on Redis (core retries it).
      a.l2.client.disconnect();
      await expect(a.store.set(record, { ...held!, value: 'newer' })).rejects.toThrow();
      if (a.l2.client.status !== 'end') await once(a.l2.client, 'end');
      await a.l2.client.connect();
      await expect.poll(() => a.store.stats().pendingRepairs, { timeout: 10_000 }).toBe(0);
      // Deleting the record would bring 'k' back for every process that reads it from Redis.
      expect(await b.l2.get(record)).toEqual(held);
      const c = await instance('repair-tags');
      expect(await c.cache.get('k')).toBeUndefined();
    });
  });
});
