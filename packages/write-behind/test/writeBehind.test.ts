import { CacheError, createCache, InvalidArgumentError } from '@cache/core';
import {
  QueueFullError,
  WriteBehindClosedError,
  type WriteBehindEntry,
  writeBehind,
} from '@cache/write-behind';
import { hasPostgres, type PostgresServer, startPostgres } from '@cache-tooling/postgres-server';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRemover, postgresWriter } from '../examples/postgresWriter.js';
import { createPool, createTable, gate, mapStore, readTable } from './support.js';

describe.skipIf(!hasPostgres())('with a real PostgreSQL', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await startPostgres();
    pool = createPool(server);
  });

  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  type Row = { n: number };

  /** The upsert writer, recording the (key, value) pairs of every batch it commits. */
  function recording(table: string) {
    const batches: [string, unknown][][] = [];
    const upsert = postgresWriter<unknown>(pool, table);
    const write = async (batch: WriteBehindEntry<unknown>[]) => {
      await upsert(batch);
      batches.push(batch.map((entry) => [entry.key, entry.value]));
    };
    return { batches, write };
  }

  /** A cache over a map, and a write-behind into `table` that flushes only when asked. */
  function cachedUsers(table: string) {
    const cache = createCache({ store: mapStore() });
    const users = writeBehind<Row>({
      cache,
      write: postgresWriter(pool, table),
      flushInterval: '1h',
    });
    return { cache, users };
  }

  describe('writeBehind', () => {
    it('updates the cache at once and writes to PostgreSQL on flush', async () => {
      const table = await createTable(pool);
      const { cache, users } = cachedUsers(table);
      await users.write('user:1', { n: 1 });
      expect(await cache.get('user:1')).toEqual({ n: 1 });
      expect((await readTable(pool, table)).size).toBe(0);
      await users.flush();
      expect(await readTable(pool, table)).toEqual(new Map([['user:1', { n: 1 }]]));
      expect(users.stats()).toMatchObject({ queued: 1, flushed: 1, batches: 1, depth: 0 });
      await users.close();
    });

    it('writes null, strings, numbers and objects as JSON values', async () => {
      const table = await createTable(pool);
      const users = writeBehind({ write: postgresWriter(pool, table), flushInterval: '1h' });
      const values = {
        nothing: null,
        text: 'a "quoted" text',
        number: 1.5,
        object: { a: [1, null] },
      };
      for (const [key, value] of Object.entries(values)) await users.write(key, value);
      await users.close();
      expect(await readTable(pool, table)).toEqual(new Map(Object.entries(values)));
    });

    it('writes only the last value of a key in a batch, in the order of the last writes', async () => {
      const table = await createTable(pool);
      const { batches, write } = recording(table);
      const users = writeBehind({ write, flushInterval: '1h' });
      for (const [key, n] of [
        ['a', 1],
        ['b', 1],
        ['a', 2],
        ['c', 1],
        ['b', 2],
      ] as const) {
        await users.write(key, { n });
      }
      await users.flush();
      expect(batches).toEqual([
        [
          ['a', { n: 2 }],
          ['c', { n: 1 }],
          ['b', { n: 2 }],
        ],
      ]);
      expect(await readTable(pool, table)).toEqual(
        new Map([
          ['a', { n: 2 }],
          ['b', { n: 2 }],
          ['c', { n: 1 }],
        ]),
      );
      expect(users.stats()).toMatchObject({ queued: 5, flushed: 3, coalesced: 2 });
      await users.close();
    });

    it.each([1, 3])(
      "writes a key's values in order across batches, so the last one wins (concurrency %i)",
      async (concurrency) => {
        const table = await createTable(pool);
        const { batches, write } = recording(table);
        const users = writeBehind({ write, maxBatch: 7, flushInterval: '1h', concurrency });
        const writes: Promise<void>[] = [];
        for (let n = 0; n < 100; n++) writes.push(users.write(`k${n % 13}`, { n }));
        await Promise.all(writes);
        await users.close();
        const seen = new Map<string, number>();
        for (const batch of batches) {
          for (const [key, value] of batch) {
            const n = (value as Row).n;
            expect(n).toBeGreaterThan(seen.get(key) ?? -1);
            seen.set(key, n);
          }
        }
        expect(batches.length).toBeGreaterThan(1);
        const lastValues = new Map<string, Row>();
        for (let n = 0; n < 100; n++) lastValues.set(`k${n % 13}`, { n });
        expect(await readTable(pool, table)).toEqual(lastValues);
      },
    );

    it('writes up to `concurrency` batches at once when they share no key', async () => {
      const table = await createTable(pool);
      const upsert = postgresWriter(pool, table);
      const allStarted = gate();
      let active = 0;
      const users = writeBehind({
        write: async (batch) => {
          if (++active === 3) allStarted.open();
          await allStarted.promise; // the third concurrent call lets all three finish
          await upsert(batch);
          active--;
        },
        maxBatch: 10,
        concurrency: 3,
        flushInterval: '1h',
      });
      for (let n = 0; n < 30; n++) await users.write(`k${n}`, n);
      await users.close();
      expect((await readTable(pool, table)).size).toBe(30);
    });

    it('flushes a full batch without waiting for the interval', async () => {
      const table = await createTable(pool);
      const users = writeBehind({
        write: postgresWriter(pool, table),
        maxBatch: 10,
        flushInterval: '1h',
      });
      const flushed = new Promise((resolve) => users.once('flushed', resolve));
      for (let n = 0; n < 10; n++) await users.write(`k${n}`, n);
      expect(await flushed).toMatchObject({ rows: 10, writes: 10 });
      expect((await readTable(pool, table)).size).toBe(10);
      await users.close();
    });

    it('flushes what is queued when the interval elapses', async () => {
      const table = await createTable(pool);
      const users = writeBehind({ write: postgresWriter(pool, table), flushInterval: 20 });
      const flushed = new Promise((resolve) => users.once('flushed', resolve));
      await users.write('k', 'v');
      expect(await flushed).toMatchObject({ rows: 1, writes: 1 });
      expect(await readTable(pool, table)).toEqual(new Map([['k', 'v']]));
      await users.close();
    });

    it('retries a failing batch with backoff until the database takes it', async () => {
      const table = `late_${process.pid}`;
      const users = writeBehind({
        write: postgresWriter(pool, table),
        flushInterval: '1h',
        retry: { retries: 1000, minDelay: 1, maxDelay: 5 },
      });
      const retries: [number, string][] = [];
      users.on('retried', ({ attempt, error }) => {
        retries.push([attempt, String(error)]);
        // The table appears after the second failure, as a database coming back would.
        if (attempt === 2) {
          void pool.query(
            `CREATE TABLE ${table} (key text PRIMARY KEY, value jsonb, seq numeric, updated_at timestamptz)`,
          );
        }
      });
      await users.write('k', 1);
      await users.flush();
      expect(retries.slice(0, 2)).toEqual([
        [1, expect.stringMatching(/does not exist/)],
        [2, expect.stringMatching(/does not exist/)],
      ]);
      expect(await readTable(pool, table)).toEqual(new Map([['k', 1]]));
      expect(users.stats()).toMatchObject({ retried: retries.length, deadLettered: 0, flushed: 1 });
      await users.close();
    });

    it('dead-letters the one row the database rejects and writes the others', async () => {
      const table = await createTable(pool, `, CHECK (value->>'poison' IS NULL)`);
      const dead: WriteBehindEntry<unknown>[] = [];
      const events: unknown[] = [];
      const users = writeBehind({
        write: postgresWriter(pool, table),
        flushInterval: '1h',
        retry: { retries: 2, minDelay: 1, maxDelay: 2 },
        deadLetter: (entries) => {
          dead.push(...entries);
        },
      });
      users.on('deadLettered', ({ entries, error }) =>
        events.push([entries.length, String(error)]),
      );
      for (let n = 0; n < 50; n++) await users.write(`k${n}`, n === 17 ? { poison: true } : { n });
      await users.flush();
      expect(dead.map((entry) => [entry.key, entry.value])).toEqual([['k17', { poison: true }]]);
      expect(events).toEqual([[1, expect.stringMatching(/check constraint/)]]);
      const rows = await readTable(pool, table);
      expect(rows.size).toBe(49);
      expect(rows.has('k17')).toBe(false);
      expect(users.stats()).toMatchObject({ flushed: 49, deadLettered: 1, retried: 2, depth: 0 });
      await users.close();
    });

    it('makes writers wait, in call order, while the queue is full', async () => {
      const table = await createTable(pool);
      const slow = gate();
      const upsert = postgresWriter(pool, table);
      const users = writeBehind({
        write: async (batch) => {
          await slow.promise;
          await upsert(batch);
        },
        maxBatch: 5,
        maxQueue: 10,
        flushInterval: '1h',
      });
      const accepted: number[] = [];
      const writes = Array.from({ length: 13 }, (_, n) =>
        users.write('k', n).then(() => accepted.push(n)),
      );
      await Promise.all(writes.slice(0, 10));
      // One turn of the event loop: a write that is not blocked resolves within it.
      await new Promise((resolve) => setImmediate(resolve));
      expect(accepted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(users.stats().depth).toBe(10);
      slow.open();
      await Promise.all(writes);
      expect(accepted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      await users.close();
      expect(await readTable(pool, table)).toEqual(new Map([['k', 12]]));
    });

    it('flush() also writes the writes that waited for room when it was called', async () => {
      const table = await createTable(pool);
      const users = writeBehind({
        write: postgresWriter(pool, table),
        maxBatch: 1,
        maxQueue: 1,
        flushInterval: '1h',
      });
      const writes = [users.write('a', 1), users.write('b', 2), users.write('c', 3)];
      await users.flush();
      expect(await readTable(pool, table)).toEqual(
        new Map([
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ]),
      );
      await Promise.all(writes);
      await users.close();
    });

    it("rejects with QueueFullError when the queue is full and onFull is 'reject'", async () => {
      const table = await createTable(pool);
      const users = writeBehind({
        write: postgresWriter(pool, table),
        maxBatch: 2,
        maxQueue: 2,
        onFull: 'reject',
        flushInterval: '1h',
      });
      await users.write('a', 1);
      await users.write('b', 1);
      const error = await users.write('c', 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueFullError);
      expect(error).toBeInstanceOf(CacheError);
      expect(error).toMatchObject({ code: 'E_QUEUE_FULL', maxQueue: 2 });
      await users.close();
      expect([...(await readTable(pool, table)).keys()].sort()).toEqual(['a', 'b']);
    });

    it('close() writes everything queued, then refuses writes', async () => {
      const table = await createTable(pool);
      const users = writeBehind({
        write: postgresWriter(pool, table),
        maxBatch: 500,
        flushInterval: '1h',
      });
      const writes: Promise<void>[] = [];
      for (let n = 0; n < 2000; n++) writes.push(users.write(`k${n}`, n));
      await Promise.all(writes);
      await users.close();
      const rows = await readTable(pool, table);
      expect(rows.size).toBe(2000);
      expect(rows.get('k1999')).toBe(1999);
      await expect(users.write('late', 1)).rejects.toBeInstanceOf(WriteBehindClosedError);
      expect(users.stats()).toMatchObject({ queued: 2000, flushed: 2000, depth: 0 });
      expect(users.stats().flushLatency.max).toBeGreaterThan(0);
    });

    it('close() lets writers waiting for room in and writes them too', async () => {
      const table = await createTable(pool);
      const users = writeBehind({
        write: postgresWriter(pool, table),
        maxBatch: 2,
        maxQueue: 4,
        flushInterval: '1h',
      });
      const writes = Array.from({ length: 20 }, (_, n) => users.write(`k${n}`, n));
      await users.close();
      await Promise.all(writes);
      expect((await readTable(pool, table)).size).toBe(20);
    });

    it('close() gives up after closeTimeout while PostgreSQL fails, and reports the memory queue writes as abandoned', async () => {
      const table = await createTable(pool);
      const upsert = postgresWriter(pool, table);
      let calls = 0;
      const down = true;
      const users = writeBehind({
        write: async (batch: WriteBehindEntry[]) => {
          calls++;
          if (down) throw new Error('the database is down');
          await upsert(batch);
        },
        flushInterval: '1h',
        retry: { retries: 1000, minDelay: 5, maxDelay: 20 },
        closeTimeout: 300,
      });
      const abandoned: number[] = [];
      users.on('abandoned', ({ writes }) => abandoned.push(writes));
      await users.write('k', 1);
      await expect(users.close()).rejects.toMatchObject({ code: 'E_CLOSE_TIMEOUT', depth: 1 });
      expect(abandoned).toEqual([1]);
      expect(users.stats()).toMatchObject({ abandoned: 1, deadLettered: 0, flushed: 0 });
      // The flusher stopped: no more attempts.
      const after = calls;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(calls - after).toBeLessThanOrEqual(1);
    });

    it('delete() removes the key from the cache at once and from PostgreSQL on flush', async () => {
      const table = await createTable(pool);
      const cache = createCache({ store: mapStore() });
      const users = writeBehind<Row>({
        cache,
        write: postgresWriter(pool, table),
        remove: postgresRemover(pool, table),
        flushInterval: '1h',
      });
      await users.write('user:1', { n: 1 });
      await users.write('user:2', { n: 2 });
      await users.flush();
      await users.delete('user:1');
      expect(await cache.get('user:1')).toBeUndefined();
      expect((await readTable(pool, table)).size).toBe(2);
      await users.flush();
      expect(await readTable(pool, table)).toEqual(new Map([['user:2', { n: 2 }]]));
      expect(users.stats()).toMatchObject({ queued: 3, flushed: 3, depth: 0 });
      await users.close();
    });

    it("keeps a key's writes and deletes in order: the last one in a batch wins", async () => {
      const table = await createTable(pool);
      const removed: string[][] = [];
      const remove = postgresRemover(pool, table);
      const users = writeBehind<Row>({
        write: postgresWriter(pool, table),
        remove: async (keys) => {
          removed.push(keys);
          await remove(keys);
        },
        flushInterval: '1h',
      });
      await users.write('gone', { n: 1 });
      await users.write('back', { n: 1 });
      await users.flush();
      await users.delete('back');
      await users.write('back', { n: 2 });
      await users.write('gone', { n: 2 });
      await users.delete('gone');
      await users.flush();
      expect(await readTable(pool, table)).toEqual(new Map([['back', { n: 2 }]]));
      expect(removed).toEqual([['gone']]);
      expect(users.stats().coalesced).toBe(2);
      await users.close();
    });

    it('rejects delete() without a remove option, naming it', async () => {
      const users = writeBehind({ write: async () => {} });
      await expect(users.delete('k')).rejects.toMatchObject({ argument: 'remove' });
      await expect(users.delete('')).rejects.toMatchObject({ argument: 'key' });
      await users.close();
    });

    it('rejects bad input with InvalidArgumentError naming the argument', async () => {
      const write = async () => {};
      const users = writeBehind({ write });
      await expect(users.write('', 1)).rejects.toMatchObject({ argument: 'key' });
      await expect(users.write(1 as unknown as string, 1)).rejects.toMatchObject({
        argument: 'key',
      });
      await expect(users.write('k', undefined)).rejects.toMatchObject({ argument: 'value' });
      await users.close();
      const bad: [object, string][] = [
        [{}, 'write'],
        [{ write, maxBatch: 0 }, 'maxBatch'],
        [{ write, concurrency: 0 }, 'concurrency'],
        [{ write, maxBatch: 10, maxQueue: 5 }, 'maxQueue'],
        [{ write, flushInterval: -1 }, 'flushInterval'],
        [{ write, onFull: 'drop' }, 'onFull'],
        [{ write, retry: { retries: 1.5 } }, 'retry.retries'],
        [{ write, retry: { maxDelay: 'soon' } }, 'retry.maxDelay'],
        [{ write, cache: {} }, 'cache'],
        [{ write, queue: {} }, 'queue'],
        [{ write, deadLetter: 'log' }, 'deadLetter'],
        [{ write, remove: 'rows' }, 'remove'],
        [{ write, closeTimeout: -1 }, 'closeTimeout'],
      ];
      for (const [options, argument] of bad) {
        expect(() => writeBehind(options as never), argument).toThrow(InvalidArgumentError);
        expect(() => writeBehind(options as never), argument).toThrow(
          expect.objectContaining({ argument }),
        );
      }
    });

    it('reports a cache that rejects a write, and still queues it', async () => {
      const table = await createTable(pool);
      const cache = createCache({ store: mapStore() });
      const users = writeBehind({ cache, write: postgresWriter(pool, table), flushInterval: '1h' });
      const errors: unknown[] = [];
      users.on('error', ({ operation }) => errors.push(operation));
      await expect(users.write('k', 1, { ttl: -1 })).rejects.toMatchObject({ argument: 'ttl' });
      expect(errors).toEqual(['cache']);
      await users.close();
      expect(await readTable(pool, table)).toEqual(new Map([['k', 1]]));
    });

    it('deletes the key from the cache when the cache fails to store a write, so the old value is not served', async () => {
      const table = await createTable(pool);
      const store = mapStore();
      let failing = false;
      const cache = createCache({
        store: {
          ...store,
          set: (key, entry) => {
            if (failing) throw new Error('the store is down');
            return store.set(key, entry);
          },
        },
      });
      cache.on('error', () => {});
      const users = writeBehind({ cache, write: postgresWriter(pool, table), flushInterval: '1h' });
      const uncached: string[] = [];
      users.on('uncached', ({ key }) => uncached.push(key));
      await users.write('k', 1);
      failing = true;
      await users.write('k', 2);
      expect(await cache.get('k')).toBeUndefined();
      expect(uncached).toEqual(['k']);
      expect(users.stats()).toMatchObject({ uncached: 1 });
      await users.close();
      expect(await readTable(pool, table)).toEqual(new Map([['k', 2]]));
    });

    it('deletes the key from the cache when the cache rejects a write', async () => {
      const table = await createTable(pool);
      const cache = createCache({ store: mapStore() });
      const users = writeBehind({ cache, write: postgresWriter(pool, table), flushInterval: '1h' });
      await users.write('k', 1);
      await expect(users.write('k', 2, { ttl: -1 })).rejects.toMatchObject({ argument: 'ttl' });
      expect(await cache.get('k')).toBeUndefined();
      expect(users.stats()).toMatchObject({ uncached: 1 });
      await users.close();
    });

    it('W1: a miss while a write is queued loads the queued value through load(), not the old row', async () => {
      const table = await createTable(pool);
      const { cache, users } = cachedUsers(table);
      const findRow = async (key: string) => (await readTable(pool, table)).get(key) as Row;
      const read = (key: string) => cache.getOrSet(key, () => users.load(key, () => findRow(key)));
      await users.write('k', { n: 1 });
      await users.flush();
      await users.write('k', { n: 2 });
      // Evicted (or expired) while the write waits in the queue.
      await cache.delete('k');
      expect(await read('k')).toEqual({ n: 2 });
      expect(users.pending('k')).toEqual({ value: { n: 2 }, deleted: false });
      await users.flush();
      expect(users.pending('k')).toBeUndefined();
      await cache.delete('k');
      expect(await read('k')).toEqual({ n: 2 });
      await users.close();
    });
  });
});
