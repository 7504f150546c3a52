import { setTimeout as sleep } from 'node:timers/promises';
import { writeBehind } from '@cache/write-behind';
import {
  hasPostgres,
  type PostgresServer,
  startPostgres,
  startTcpProxy,
  type TcpProxy,
} from '@cache-tooling/postgres-server';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresWriter } from '../examples/postgresWriter.js';
import { createPool, createTable, readTable } from './support.js';

describe.skipIf(!hasPostgres())('with a real PostgreSQL', () => {
  let postgres: PostgresServer;
  let proxy: TcpProxy;
  let direct: pg.Pool;
  let proxied: pg.Pool;

  beforeAll(async () => {
    postgres = await startPostgres();
    proxy = await startTcpProxy({ port: postgres.port });
    direct = createPool(postgres);
    proxied = createPool(postgres, proxy.port);
  });

  afterAll(async () => {
    await Promise.all([direct?.end(), proxied?.end()]);
    await proxy?.close();
    await postgres?.stop();
  });

  describe('database outage', () => {
    it('keeps accepting writes while PostgreSQL is unreachable for 10 s, and writes them all once it is back', async () => {
      const table = await createTable(direct);
      const users = writeBehind({
        write: postgresWriter(proxied, table),
        flushInterval: 50,
        maxBatch: 500,
        retry: { retries: 1000, minDelay: 50, maxDelay: 500 },
      });
      const retried: string[] = [];
      users.on('retried', ({ error }) => retried.push(String(error)));
      let written = 0;
      const writeSome = async (count: number) => {
        const writes: Promise<void>[] = [];
        for (let i = 0; i < count; i++, written++)
          writes.push(users.write(`key:${written}`, written));
        await Promise.all(writes);
      };

      await writeSome(1000);
      await users.flush();
      expect((await readTable(direct, table)).size).toBe(1000);

      await proxy.disconnect();
      const outageEnds = Date.now() + 10_000;
      while (Date.now() < outageEnds) {
        await writeSome(1000); // every one of these resolves: accepted while the database is away
        await sleep(500);
      }
      const accepted = written;
      expect(retried.length).toBeGreaterThan(0);
      expect(users.stats().depth).toBeGreaterThan(0);
      expect((await readTable(direct, table)).size).toBe(1000);
      await proxy.restore();

      await users.close();
      const rows = await readTable(direct, table);
      expect(rows.size).toBe(accepted);
      for (let i = 0; i < accepted; i++) expect(rows.get(`key:${i}`)).toBe(i);
      expect(users.stats()).toMatchObject({ queued: accepted, flushed: accepted, deadLettered: 0 });
    }, 60_000);
  });
});
