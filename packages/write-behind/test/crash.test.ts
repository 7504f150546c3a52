import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { forkFixture } from '@cache-tooling/config/processes';
import { describe, expect, it } from 'vitest';
import { createTable, haveServers, readTable, useServers } from './support.js';

describe.skipIf(!haveServers)('with real PostgreSQL and Redis servers', () => {
  const worker = new URL('./fixtures/worker.ts', import.meta.url);
  const KEYS = 100_000;

  const servers = useServers();

  type Message = { type: string; [field: string]: unknown };

  function start(mode: string, settings: object): ChildProcess {
    return forkFixture(worker, [mode, JSON.stringify(settings)]);
  }

  /** Resolves the first message of `type` from the child; rejects if it exits first. */
  function message(child: ChildProcess, type: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      const onMessage = (received: Message) => {
        if (received.type !== type) return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve(received);
      };
      const onExit = (code: number | null) =>
        reject(new Error(`the child exited with ${code} before sending "${type}"`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  /** Asserts every key is in the table with its last value: the second write for every 10th key. */
  async function expectEveryLastValue(table: string): Promise<void> {
    const rows = await readTable(servers.pool, table);
    expect(rows.size).toBe(KEYS);
    const wrong: string[] = [];
    for (let i = 0; i < KEYS; i++) {
      const expected = { i, round: i % 10 === 0 ? 2 : 1 };
      const actual = rows.get(`key:${i}`) as typeof expected | undefined;
      if (actual?.i !== expected.i || actual.round !== expected.round) wrong.push(`key:${i}`);
    }
    expect(wrong).toEqual([]);
  }

  describe('crash safety', () => {
    it('loses no acknowledged write when the process is SIGKILLed mid-flush (Redis Streams)', async () => {
      const table = await createTable(servers.pool);
      const settings = {
        pg: servers.postgres.config,
        redis: servers.redisServer.url,
        stream: 'crash',
        table,
        keys: KEYS,
      };
      const producer = start('produce', settings);
      const exited = once(producer, 'exit');
      await message(producer, 'written');
      // The 4th batch is committed in PostgreSQL and not yet acknowledged in the stream.
      await message(producer, 'committed');
      producer.kill('SIGKILL');
      await exited;

      const before = await readTable(servers.pool, table);
      expect(before.size).toBeGreaterThan(0);
      expect(before.size).toBeLessThan(KEYS);
      const [pending] = (await servers.redis.xpending('crash', 'write-behind')) as [number];
      expect(pending).toBeGreaterThan(0);

      const drainer = start('drain', settings);
      const drained = await message(drainer, 'drained');
      await once(drainer, 'exit');
      expect(drained.stats).toMatchObject({ deadLettered: 0, errors: 0 });
      await expectEveryLastValue(table);
      expect(await servers.redis.xlen('crash')).toBe(0);
      const [left] = (await servers.redis.xpending('crash', 'write-behind')) as [number];
      expect(left).toBe(0);
    }, 120_000);

    it('writes everything queued before exiting when closed on SIGTERM (memory queue)', async () => {
      const table = await createTable(servers.pool);
      const child = start('sigterm', { pg: servers.postgres.config, table, keys: KEYS });
      const exited = once(child, 'exit');
      const written = await message(child, 'written');
      expect(written.depth).toBeGreaterThan(0);
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      await expectEveryLastValue(table);
    }, 120_000);
  });
});
