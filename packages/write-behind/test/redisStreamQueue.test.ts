import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, defaultSerializer, SerializationError } from '@cache/core';
import {
  WriteBehindCloseTimeoutError,
  type WriteBehindEntry,
  writeBehind,
} from '@cache/write-behind';
import { redisStreamQueue } from '@cache/write-behind/redis';
import { startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { postgresRemover, postgresWriter } from '../examples/postgresWriter.js';
import { createTable, gate, haveServers, mapStore, readTable, useServers } from './support.js';

describe.skipIf(!haveServers)('with real PostgreSQL and Redis servers', () => {
  const servers = useServers();
  let streams = 0;

  function streamName(): string {
    return `writes:${++streams}`;
  }

  async function pendingCount(stream: string, group = 'write-behind'): Promise<number> {
    const [count] = (await servers.redis.xpending(stream, group)) as [number];
    return count;
  }

  // A write-behind into a new table over a new stream, keeping what it dead-letters.
  async function deadLettering() {
    const table = await createTable(servers.pool);
    const stream = streamName();
    const deadLettered: WriteBehindEntry[] = [];
    const users = writeBehind({
      write: postgresWriter(servers.pool, table),
      queue: redisStreamQueue({ client: servers.redis, stream }),
      deadLetter: (entries) => {
        deadLettered.push(...entries);
      },
      flushInterval: '1h',
    });
    return { table, stream, users, deadLettered };
  }

  // A write-behind into a new table over a new stream, flushed only when asked.
  async function upserting() {
    const table = await createTable(servers.pool);
    const stream = streamName();
    const users = writeBehind({
      write: postgresWriter(servers.pool, table),
      queue: redisStreamQueue({ client: servers.redis, stream }),
      flushInterval: '1h',
    });
    return { table, stream, users };
  }

  // A new table and stream where a consumer took `key = value` and died before writing it.
  async function diedHolding(key: string, value: unknown) {
    const table = await createTable(servers.pool);
    const stream = streamName();
    const dying = redisStreamQueue({ client: servers.redis, stream, consumer: 'dying' });
    await dying.push(key, value);
    expect(await dying.take(10)).toHaveLength(1);
    return { table, stream };
  }

  describe('redisStreamQueue', () => {
    it('resolves write() once the write is in the stream, and deletes it once in PostgreSQL', async () => {
      const { table, stream, users } = await upserting();
      await users.write('user:1', { name: 'Ada' });
      expect(await servers.redis.xlen(stream)).toBe(1);
      expect(users.stats().depth).toBe(1);
      await users.flush();
      expect(await readTable(servers.pool, table)).toEqual(new Map([['user:1', { name: 'Ada' }]]));
      expect(await servers.redis.xlen(stream)).toBe(0);
      expect(await pendingCount(stream)).toBe(0);
      expect(users.stats().depth).toBe(0);
      await users.close();
    });

    it('acknowledges a batch only after the database committed it', async () => {
      const table = await createTable(servers.pool);
      const stream = streamName();
      const slow = gate();
      const upsert = postgresWriter(servers.pool, table);
      const started = gate();
      const users = writeBehind({
        write: async (batch) => {
          started.open();
          await slow.promise;
          await upsert(batch);
        },
        queue: redisStreamQueue({ client: servers.redis, stream }),
        flushInterval: '1h',
      });
      for (let n = 0; n < 3; n++) await users.write(`k${n}`, n);
      const flushed = users.flush();
      await started.promise;
      expect(await pendingCount(stream)).toBe(3);
      slow.open();
      await flushed;
      expect(await pendingCount(stream)).toBe(0);
      expect((await readTable(servers.pool, table)).size).toBe(3);
      await users.close();
    });

    it('writes what a dead consumer took and never acknowledged', async () => {
      const table = await createTable(servers.pool);
      const stream = streamName();
      const dying = redisStreamQueue({ client: servers.redis, stream, consumer: 'dying' });
      for (let n = 0; n < 5; n++) await dying.push(`k${n}`, n);
      // The consumer takes the writes, then its process dies before the database commit.
      expect(await dying.take(10)).toHaveLength(5);
      expect(await pendingCount(stream)).toBe(5);
      const survivor = writeBehind({
        write: postgresWriter(servers.pool, table),
        queue: redisStreamQueue({
          client: servers.redis,
          stream,
          consumer: 'survivor',
          claimIdle: 0,
        }),
        flushInterval: '1h',
      });
      await survivor.flush();
      expect((await readTable(servers.pool, table)).size).toBe(5);
      expect(await pendingCount(stream)).toBe(0);
      await survivor.close();
    });

    it('takes back its own unacknowledged writes first when restarted under the same name', async () => {
      const stream = streamName();
      const before = redisStreamQueue({ client: servers.redis, stream, consumer: 'web-1' });
      await before.push('k', 'old');
      expect(await before.take(10)).toMatchObject([{ key: 'k', value: 'old' }]);
      await before.push('k', 'new');
      const after = redisStreamQueue({ client: servers.redis, stream, consumer: 'web-1' });
      const own = await after.take(10);
      expect(own).toMatchObject([{ key: 'k', value: 'old' }]);
      await after.ack(own);
      const next = await after.take(10);
      expect(next).toMatchObject([{ key: 'k', value: 'new' }]);
    });

    it('W1: never writes a write claimed from a dead consumer over a newer one of its key', async () => {
      const { table, stream } = await diedHolding('k', 'old');
      // The process restarts under a new consumer name and writes the key again.
      const upsert = postgresWriter(servers.pool, table);
      const written: unknown[] = [];
      const restarted = writeBehind({
        write: async (batch: WriteBehindEntry[]) => {
          await upsert(batch);
          written.push(...batch.map((entry) => entry.value));
        },
        queue: redisStreamQueue({ client: servers.redis, stream, claimIdle: 200 }),
        flushInterval: '1h',
      });
      const superseded: unknown[] = [];
      restarted.on('superseded', ({ entries }) => superseded.push(...entries.map((e) => e.value)));
      await restarted.write('k', 'new');
      await restarted.flush();
      expect(await readTable(servers.pool, table)).toEqual(new Map([['k', 'new']]));
      // Past claimIdle (and the pause between two passes over the pending list) it claims 'old'.
      await sleep(1100);
      await restarted.flush();
      expect(await pendingCount(stream)).toBe(0);
      expect(written).toEqual(['new']);
      expect(superseded).toEqual(['old']);
      expect(restarted.stats()).toMatchObject({ superseded: 1, flushed: 1 });
      expect(await readTable(servers.pool, table)).toEqual(new Map([['k', 'new']]));
      await restarted.close();
    });

    it('W1: the example upsert keeps a newer row when a fresh process claims an older write', async () => {
      const { table, stream } = await diedHolding('k', 'old');
      const other = writeBehind({
        write: postgresWriter(servers.pool, table),
        queue: redisStreamQueue({ client: servers.redis, stream, consumer: 'other' }),
        flushInterval: '1h',
      });
      await other.write('k', 'new');
      await other.close();
      expect(await readTable(servers.pool, table)).toEqual(new Map([['k', 'new']]));
      // A process with no memory of 'new' claims 'old' and writes it: the row stays 'new'.
      const fresh = writeBehind({
        write: postgresWriter(servers.pool, table),
        queue: redisStreamQueue({ client: servers.redis, stream, consumer: 'fresh', claimIdle: 0 }),
        flushInterval: '1h',
      });
      await fresh.close();
      expect(fresh.stats()).toMatchObject({ flushed: 1 });
      expect(await pendingCount(stream)).toBe(0);
      expect(await readTable(servers.pool, table)).toEqual(new Map([['k', 'new']]));
    });

    it('gives every write a sequence that grows in stream order, as digits of one width', async () => {
      const stream = streamName();
      const queue = redisStreamQueue({ client: servers.redis, stream });
      await Promise.all([queue.push('a', 1), queue.push('b', 2)]);
      await queue.push('a', 3);
      const taken = await queue.take(10);
      const sequences = taken.map((entry) => entry.sequence);
      expect(sequences).toEqual([...sequences].sort());
      expect(new Set(sequences).size).toBe(3);
      for (const sequence of sequences) expect(sequence).toMatch(/^\d{28}$/);
    });

    it('flush() resolves only once every write called before it is in PostgreSQL', async () => {
      const { table, users } = await upserting();
      await users.write('a', 1);
      await users.flush();
      // Called, not awaited: its XADD is still to be sent when flush() takes from the stream.
      const writing = users.write('b', 2);
      await users.flush();
      expect(await readTable(servers.pool, table)).toEqual(
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      );
      await writing;
      await users.close();
    });

    it('never claims back the writes it took and is still writing, however long they take', async () => {
      const stream = streamName();
      const queue = redisStreamQueue({ client: servers.redis, stream, claimIdle: 100 });
      await queue.push('k', 1);
      const writing = await queue.take(10);
      expect(writing).toMatchObject([{ key: 'k', value: 1 }]);
      // The write stays unacknowledged past claimIdle (and the pause between two claim passes),
      // as in a long database outage.
      await sleep(1100);
      await queue.push('k', 2);
      expect(await queue.take(10)).toMatchObject([{ key: 'k', value: 2 }]);
      expect(await queue.take(10)).toEqual([]);
      await queue.ack(writing);
      expect(await pendingCount(stream)).toBe(1);
    });

    it('close() rejects with WriteBehindCloseTimeoutError after closeTimeout while Redis is down', async () => {
      const table = await createTable(servers.pool);
      const server = await startRedis();
      // No offline queue: while Redis is down every command fails at once.
      const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      await once(client, 'ready');
      const users = writeBehind({
        write: postgresWriter(servers.pool, table),
        queue: redisStreamQueue({ client, stream: streamName() }),
        flushInterval: '1h',
        closeTimeout: 500,
      });
      const failed: string[] = [];
      users.on('error', ({ operation }) => failed.push(operation));
      await users.write('k', 1);
      await server.kill();
      const closing = users.close();
      await expect(closing).rejects.toBeInstanceOf(WriteBehindCloseTimeoutError);
      await expect(closing).rejects.toMatchObject({ code: 'E_CLOSE_TIMEOUT', depth: 1 });
      expect(failed).toContain('take');
      expect(users.stats()).toMatchObject({ abandoned: 0, flushed: 0 });
      client.disconnect();
    });

    it('W1: pending() shows the newest queued write or delete of a key until it is in PostgreSQL', async () => {
      const table = await createTable(servers.pool);
      const users = writeBehind({
        write: postgresWriter(servers.pool, table),
        remove: postgresRemover(servers.pool, table),
        queue: redisStreamQueue({ client: servers.redis, stream: streamName() }),
        flushInterval: '1h',
      });
      await users.write('k', 1);
      expect(users.pending('k')).toEqual({ value: 1, deleted: false });
      expect(await users.load('k', () => 'row')).toBe(1);
      await users.flush();
      expect(users.pending('k')).toBeUndefined();
      expect(await users.load('k', () => 'row')).toBe('row');
      await users.delete('k');
      expect(users.pending('k')).toEqual({ value: undefined, deleted: true });
      expect(await users.load('k', () => 'row')).toBeUndefined();
      await users.close();
      expect(users.pending('k')).toBeUndefined();
    });

    it('deletes the key from the cache when the write cannot be queued, so the cache never holds what the database will not', async () => {
      const server = await startRedis();
      const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      await once(client, 'ready');
      const cache = createCache({ store: mapStore() });
      const users = writeBehind({
        cache,
        write: postgresWriter(servers.pool, await createTable(servers.pool)),
        queue: redisStreamQueue({ client, stream: streamName() }),
        flushInterval: '1h',
      });
      await users.write('k', 1);
      await server.kill();
      await expect(users.write('k', 2)).rejects.toThrow();
      expect(await cache.get('k')).toBeUndefined();
      expect(users.stats()).toMatchObject({ uncached: 1, queued: 1 });
      client.disconnect();
    });

    it('round-trips values with their types through the stream', async () => {
      const stream = streamName();
      const received: unknown[] = [];
      const users = writeBehind({
        write: (batch) => {
          received.push(...batch.map((entry) => entry.value));
        },
        queue: redisStreamQueue({ client: servers.redis, stream }),
        flushInterval: '1h',
      });
      const value = {
        at: new Date(0),
        tags: new Set(['a']),
        big: 10n,
        nested: { missing: undefined },
      };
      await users.write('k', value);
      await users.close();
      expect(received).toEqual([value]);
    });

    it('dead-letters and acknowledges a write it cannot decode, and writes the ones around it', async () => {
      const { table, stream, users, deadLettered } = await deadLettering();
      const events: unknown[] = [];
      users.on('deadLettered', ({ error }) => events.push(error));
      await users.write('user:1', { name: 'Ada' });
      // An entry written by something else: its first value is not the serializer's format.
      const good = defaultSerializer.serialize({ name: 'Cy' });
      await servers.redis.xadd(stream, '*', 'user:2', '{not devalue', 'user:3', good);
      await users.write('user:4', { name: 'Dee' });
      await users.flush();
      expect(await readTable(servers.pool, table)).toEqual(
        new Map([
          ['user:1', { name: 'Ada' }],
          ['user:3', { name: 'Cy' }],
          ['user:4', { name: 'Dee' }],
        ]),
      );
      expect(deadLettered).toMatchObject([
        { key: 'user:2', undecodable: { text: '{not devalue' } },
      ]);
      expect(deadLettered[0]!.undecodable!.error).toBeInstanceOf(SerializationError);
      expect(events).toEqual([deadLettered[0]!.undecodable!.error]);
      expect(users.stats().deadLettered).toBe(1);
      expect(await servers.redis.xlen(stream)).toBe(0);
      expect(await pendingCount(stream)).toBe(0);
      await users.close();
    });

    it('carries deletes through the stream, in order with the writes', async () => {
      const table = await createTable(servers.pool);
      const stream = streamName();
      const users = writeBehind({
        write: postgresWriter(servers.pool, table),
        remove: postgresRemover(servers.pool, table),
        queue: redisStreamQueue({ client: servers.redis, stream }),
        flushInterval: '1h',
      });
      await users.write('user:1', { name: 'Ada' });
      await users.write('user:2', { name: 'Bob' });
      await users.flush();
      await users.delete('user:1');
      await users.write('user:3', { name: 'Cy' });
      await users.delete('user:2');
      await users.write('user:2', { name: 'Bob again' });
      expect(await servers.redis.xlen(stream)).toBe(4);
      await users.flush();
      expect(await readTable(servers.pool, table)).toEqual(
        new Map([
          ['user:2', { name: 'Bob again' }],
          ['user:3', { name: 'Cy' }],
        ]),
      );
      expect(await servers.redis.xlen(stream)).toBe(0);
      await users.close();
    });

    it('dead-letters every undecodable write, even one a later write of its key supersedes', async () => {
      const { table, stream, users, deadLettered } = await deadLettering();
      await servers.redis.xadd(stream, '*', 'user:1', '{not devalue');
      await users.write('user:1', { name: 'Ada' });
      await users.flush();
      expect(deadLettered).toMatchObject([
        { key: 'user:1', undecodable: { text: '{not devalue' } },
      ]);
      expect(await readTable(servers.pool, table)).toEqual(new Map([['user:1', { name: 'Ada' }]]));
      expect(users.stats()).toMatchObject({ deadLettered: 1, coalesced: 0, flushed: 1 });
      await users.close();
    });

    it('dead-letters, without retrying, deletes it reads when it has no remove option', async () => {
      const table = await createTable(servers.pool);
      const stream = streamName();
      const producer = redisStreamQueue({ client: servers.redis, stream, consumer: 'producer' });
      await producer.push('user:1', { name: 'Ada' });
      await producer.pushDelete('user:2');
      const errors: unknown[] = [];
      const drainer = writeBehind({
        write: postgresWriter(servers.pool, table),
        queue: redisStreamQueue({ client: servers.redis, stream, consumer: 'drainer' }),
        deadLetter: (entries, error) => {
          errors.push(...entries.map((entry) => [entry.key, entry.deleted, error]));
        },
        flushInterval: '1h',
      });
      await drainer.flush();
      expect(await readTable(servers.pool, table)).toEqual(new Map([['user:1', { name: 'Ada' }]]));
      expect(errors).toEqual([
        [
          'user:2',
          true,
          expect.objectContaining({ code: 'E_INVALID_ARGUMENT', argument: 'remove' }),
        ],
      ]);
      expect(drainer.stats()).toMatchObject({ retried: 0, deadLettered: 1 });
      expect(await pendingCount(stream)).toBe(0);
      await drainer.close();
    });

    it('hands a delete to any consumer as an entry marked deleted', async () => {
      const stream = streamName();
      await redisStreamQueue({ client: servers.redis, stream, consumer: 'web-1' }).pushDelete('k');
      const other = redisStreamQueue({ client: servers.redis, stream, consumer: 'worker' });
      expect(await other.take(10)).toEqual([
        {
          key: 'k',
          value: undefined,
          id: expect.any(String),
          sequence: expect.any(String),
          deleted: true,
        },
      ]);
    });

    it('rejects a value its serializer encodes as an empty string, the mark of a delete', () => {
      const queue = redisStreamQueue<string>({
        client: servers.redis,
        stream: streamName(),
        serializer: {
          name: 'text',
          serialize: (value) => String(value),
          deserialize: (text) => text,
        },
      });
      expect(() => queue.push('k', '')).toThrow(SerializationError);
    });

    it('connects with a redis:// URL', async () => {
      const stream = streamName();
      const queue = redisStreamQueue({ client: servers.redisServer.url, stream });
      const users = writeBehind({ write: () => {}, queue, flushInterval: '1h' });
      await users.write('k', 1);
      await users.close();
      expect(await servers.redis.xlen(stream)).toBe(0);
    });

    it('rejects bad options with InvalidArgumentError naming the option', () => {
      const bad: [object, string][] = [
        [{ client: servers.redis }, 'stream'],
        [{ client: servers.redis, stream: 's', group: '' }, 'group'],
        [{ stream: 's' }, 'client'],
        [{ client: servers.redis, stream: 's', claimIdle: -1 }, 'claimIdle'],
        [{ client: servers.redis, stream: 's', consumer: '' }, 'consumer'],
      ];
      for (const [options, argument] of bad) {
        expect(() => redisStreamQueue(options as never), argument).toThrow(
          expect.objectContaining({ code: 'E_INVALID_ARGUMENT', argument }),
        );
      }
    });
  });
});
