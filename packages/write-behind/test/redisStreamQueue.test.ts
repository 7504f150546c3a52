import { defaultSerializer, SerializationError } from '@cache/core';
import { type WriteBehindEntry, writeBehind } from '@cache/write-behind';
import { redisStreamQueue } from '@cache/write-behind/redis';
import { describe, expect, it } from 'vitest';
import { postgresRemover, postgresWriter } from '../examples/postgresWriter.js';
import { createTable, gate, haveServers, readTable, useServers } from './support.js';

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

  describe('redisStreamQueue', () => {
    it('resolves write() once the write is in the stream, and deletes it once in PostgreSQL', async () => {
      const table = await createTable(servers.pool);
      const stream = streamName();
      const users = writeBehind({
        write: postgresWriter(servers.pool, table),
        queue: redisStreamQueue({ client: servers.redis, stream }),
        flushInterval: '1h',
      });
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
        { key: 'k', value: undefined, id: expect.any(String), deleted: true },
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
