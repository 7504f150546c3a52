import { InvalidArgumentError, jsonSerializer, SerializationError } from '@cache/core';
import { hasRedis } from '@cache-tooling/redis-server';
import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type RedisStore, redisLock, redisStore } from '../src/index.js';
import { entry, storeContract } from './contract.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();
  let store: RedisStore;

  async function callsOf(command: string): Promise<number> {
    const info = await redis.raw.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  }

  beforeEach(async () => {
    await redis.raw.flushdb();
    await redis.raw.config('RESETSTAT');
    store = redisStore({ port: redis.server.port, prefix: 'test:' });
  });
  afterEach(async () => {
    await store.close();
  });

  storeContract('a single node', () => store);

  describe('redisStore on a single node', () => {
    test('a client the store creates comes back soon after an outage; options passed win', async () => {
      const { retryStrategy, maxLoadingRetryTime } = store.client.options as RedisOptions;
      // Attempts at most ~1 s apart, however long the outage (ioredis 6 waits up to 5 s).
      expect(
        Math.max(...[1, 5, 10, 50].map((times) => Number(retryStrategy?.(times)))),
      ).toBeLessThan(1_050);
      // While a restarted Redis loads its data, asked again every 100 ms (ioredis: up to 10 s).
      expect(maxLoadingRetryTime).toBe(100);
      const own = redisStore({ port: redis.server.port, maxLoadingRetryTime: 2_000 });
      try {
        expect((own.client.options as { maxLoadingRetryTime?: number }).maxLoadingRetryTime).toBe(
          2_000,
        );
      } finally {
        await own.close();
      }
    });

    test('keys live in Redis under the prefix with a PX expiry at staleUntil', async () => {
      const now = Date.now();
      await store.set('k', entry(1, { expiresAt: now + 10_000, staleUntil: now + 60_000 }));
      const pttl = await redis.raw.pttl('test:k');
      expect(pttl).toBeGreaterThan(10_000);
      expect(pttl).toBeLessThanOrEqual(60_000);
    });

    test('fractional and infinite expiry times round-trip; an infinite one sets no PX', async () => {
      const fractional = entry('f', { expiresAt: Date.now() + 60_000.5 });
      const forever = entry('forever', { expiresAt: Number.POSITIVE_INFINITY });
      await store.setMany([
        ['fractional', fractional],
        ['forever', forever],
      ]);
      expect(await store.get('fractional')).toEqual(fractional);
      expect(await store.get('forever')).toEqual(forever);
      expect(await redis.raw.pttl('test:forever')).toBe(-1);
    });

    test('concurrent gets in one tick go out as a single MGET', async () => {
      await store.setMany(Array.from({ length: 50 }, (_, i) => [`k${i}`, entry(i)]));
      const before = await callsOf('mget');
      const entries = await Promise.all(Array.from({ length: 100 }, (_, i) => store.get(`k${i}`)));
      expect(await callsOf('mget')).toBe(before + 1);
      expect(entries.map((found) => found?.value)).toEqual(
        Array.from({ length: 100 }, (_, i) => (i < 50 ? i : undefined)),
      );
    });

    test('writes and deletes issued in one tick reach Redis in the order issued', async () => {
      const writes = [
        store.set('k', entry('a')),
        store.set('k', entry('b')),
        store.set('other', entry('x')),
        store.delete('k'),
        store.set('k', entry('c')),
        store.delete('other'),
      ];
      await Promise.all(writes);
      expect((await store.get('k'))?.value).toBe('c');
      expect(await store.get('other')).toBeUndefined();
      await Promise.all([store.set('k', entry('d')), store.set('k', entry('e'))]);
      expect((await store.get('k'))?.value).toBe('e');
    });

    test('a burst of writes keeps its order with commands other users of the client send', async () => {
      await store.get('connected');
      const lock = redisLock({ client: store.client });
      const monitor = await redis.raw.monitor(); // a client of its own, disconnected below
      const seen: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) =>
        seen.push(args.slice(0, 2).join(' ')),
      );
      try {
        await Promise.all([
          store.set('a', entry(1)),
          store.set('b', entry(2)),
          store.client.del('test:b'), // issued after set('b') on the same client: runs after it
          lock.acquire('x', { ttl: 1_000, timeout: 0 }),
          store.set('c', entry(3)),
        ]);
        expect(await redis.raw.exists('test:b')).toBe(0);
        await store.get('synced'); // MONITOR has seen everything before this read
        await new Promise((resolve) => setTimeout(resolve, 50));
        // (The fences each write leaves are set in the same script, just before it.)
        const writes = seen.filter((line) => /^(set|del) /i.test(line) && !/fence/.test(line));
        expect(writes.map((line) => line.toLowerCase())).toEqual([
          'set test:a',
          'set test:b',
          'del test:b',
          'set cache-lock:x',
          'set test:c',
        ]);
      } finally {
        monitor.disconnect();
      }
    });

    test('a burst of writes in one tick all land, even when close() follows at once', async () => {
      await store.get('connected');
      const burst = Array.from({ length: 200 }, (_, i) => store.set(`k${i}`, entry(i)));
      const closed = store.close();
      await Promise.all([...burst, closed]);
      const texts = await redis.raw.mget(Array.from({ length: 200 }, (_, i) => `test:k${i}`));
      expect(texts.filter((text) => text !== null)).toHaveLength(200);
      store = redisStore({ port: redis.server.port, prefix: 'test:' });
      expect((await store.get('k199'))?.value).toBe(199);
    });

    test('plain JSON values are stored as JSON, anything devalue treats differently is not', async () => {
      const shared = { id: 1 };
      const values: [string, unknown, boolean][] = [
        ['plain', { a: [1, 'two', null, true, { b: 2.5 }] }, true],
        ['string', 'text', true],
        ['undefinedMember', { a: undefined }, false],
        ['negativeZero', -0, false],
        // biome-ignore lint/suspicious/noSparseArray: a hole is the case under test
        ['sparse', [1, , 3], false],
        ['sharedReference', { x: shared, y: shared }, false],
        ['nullPrototype', Object.assign(Object.create(null), { a: 1 }), false],
        ['nan', Number.NaN, false],
      ];
      await store.setMany(values.map(([key, value]) => [key, entry(value)]));
      for (const [key, value, asJson] of values) {
        expect((await redis.raw.get(`test:${key}`))?.startsWith('['), key).toBe(asJson);
        const found = (await store.get(key))?.value;
        expect(found, key).toStrictEqual(value);
      }
      const back = (await store.get('sharedReference'))?.value as { x: object; y: object };
      expect(back.x).toBe(back.y);
    });

    test('clear() removes every key of the store and nothing else, in batches', async () => {
      const small = redisStore({ port: redis.server.port, prefix: 'test:', scanCount: 7 });
      const other = redisStore({ port: redis.server.port, prefix: 'other:' });
      try {
        await small.setMany(Array.from({ length: 100 }, (_, i) => [`k${i}`, entry(i)]));
        await other.set('k0', entry('kept'));
        await redis.raw.set('foreign', 'kept');
        await small.clear();
        // Only the fence the clear leaves for loads that began before it (for a while).
        expect(await redis.raw.keys('test:*')).toEqual(['test:__cache:fence']);
        expect((await other.get('k0'))?.value).toBe('kept');
        expect(await redis.raw.get('foreign')).toBe('kept');
        expect(await callsOf('keys')).toBe(1); // the assertion above, never the store
        expect(await callsOf('flushdb')).toBe(0);
      } finally {
        await small.close();
        await other.close();
      }
    });

    test('a view with another serializer shares the connection and reads its own format', async () => {
      const json = store.withSerializer(jsonSerializer);
      expect(json.client).toBe(store.client);
      await json.set('j', entry({ a: 1 }));
      expect((await json.get('j'))?.value).toEqual({ a: 1 });
      expect(await redis.raw.get('test:j')).toContain('{"a":1}');
    });

    test('text not written by the store rejects that read only', async () => {
      await store.set('good', entry('fine'));
      await redis.raw.set('test:bad', 'not an entry');
      const [good, bad] = await Promise.allSettled([store.get('good'), store.get('bad')]);
      expect(good).toMatchObject({ status: 'fulfilled', value: { value: 'fine' } });
      expect(bad).toMatchObject({ status: 'rejected', reason: expect.any(SerializationError) });
    });

    test('an ioredis keyPrefix is refused in favour of the prefix option', () => {
      const client = new Redis(redis.server.port, { keyPrefix: 'app:', lazyConnect: true });
      expect(() => redisStore({ client })).toThrow(InvalidArgumentError);
      expect(() => redisStore({ keyPrefix: 'app:', lazyConnect: true })).toThrow(/prefix/);
      client.disconnect();
    });

    test('a client passed in is shared and left open on close', async () => {
      const client = new Redis(redis.server.port);
      const shared = redisStore({ client, prefix: 'test:' });
      await shared.set('k', entry(1));
      await shared.close();
      expect(await client.get('test:k')).toContain('1');
      client.disconnect();
    });
  });

  describe('soft invalidation (expire, expirePrefix)', () => {
    test('rewrites only the expiry: the value, its grace and its TTL in Redis stay', async () => {
      const now = Date.now();
      // A Map takes the serialized format, plain JSON the other one.
      const serialized = entry(new Map([['a', 1]]), { staleUntil: now + 60_000, tags: ['t'] });
      const json = entry({ list: [1, 'two,three'] }, { staleUntil: now + 60_000 });
      await store.set('serialized', serialized);
      await store.set('json', json);
      const before = await redis.raw.pttl('test:json');
      expect(await store.expire(['serialized', 'json'])).toBe(2);
      expect(await store.get('serialized')).toEqual({ ...serialized, expiresAt: 0 });
      expect(await store.get('json')).toEqual({ ...json, expiresAt: 0 });
      const after = await redis.raw.pttl('test:json');
      expect(after).toBeGreaterThan(before - 1_000);
      expect(after).toBeLessThanOrEqual(before);
    });

    test('leaves alone keys under the prefix that hold no entry: other types, foreign text', async () => {
      await redis.raw.xadd('test:log', '*', 'message', '{}');
      await redis.raw.set('test:text', 'not an entry');
      await redis.raw.set('test:array', '[1]');
      await store.set('k', entry('v', { staleUntil: Date.now() + 60_000 }));
      expect(await store.expire(['log', 'text', 'array', 'k'])).toBe(1);
      await store.expirePrefix('');
      expect(await redis.raw.xlen('test:log')).toBe(1);
      expect(await redis.raw.get('test:text')).toBe('not an entry');
      expect(await redis.raw.get('test:array')).toBe('[1]');
      expect((await store.get('k'))?.expiresAt).toBe(0);
    });

    test('keeps an entry stored forever without a TTL', async () => {
      await store.set(
        'forever',
        entry('v', { expiresAt: Number.POSITIVE_INFINITY, staleUntil: Number.POSITIVE_INFINITY }),
      );
      await store.expire(['forever']);
      expect((await store.get('forever'))?.expiresAt).toBe(0);
      expect(await redis.raw.pttl('test:forever')).toBe(-1);
    });

    test('expirePrefix walks the keys with SCAN and leaves other prefixes alone', async () => {
      const other = redisStore({ port: redis.server.port, prefix: 'other:' });
      const graced = () => entry('v', { staleUntil: Date.now() + 60_000 });
      try {
        for (let i = 0; i < 2_500; i++) await store.set(`user:${i}`, graced());
        await other.set('user:1', graced());
        await store.expirePrefix('user:');
        const found = await store.getMany(Array.from({ length: 2_500 }, (_, i) => `user:${i}`));
        expect(found.every((e) => e?.expiresAt === 0 && e.value === 'v')).toBe(true);
        expect((await other.get('user:1'))?.expiresAt).toBeGreaterThan(0);
      } finally {
        await other.close();
      }
    });
  });

  describe('maxmemory-policy check', () => {
    test('warns when a maxmemory is set with noeviction', async () => {
      await redis.raw.config('SET', 'maxmemory', '100mb');
      await redis.raw.config('SET', 'maxmemory-policy', 'noeviction');
      try {
        const watched = redisStore({ port: redis.server.port, lazyConnect: true });
        const warning = new Promise((resolve) => watched.on('warning', resolve));
        await watched.get('k');
        expect(await warning).toMatchObject({ code: 'E_NOEVICTION' });
        await watched.close();
      } finally {
        await redis.raw.config('SET', 'maxmemory', '0');
      }
    });
  });
});
