import type { CacheEntry, CacheStore } from '@cache/core';
import { hasPostgres, type PostgresServer, startPostgres } from '@cache-tooling/postgres-server';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/** A plain in-process store for `createCache`, so these tests need no other @cache package. */
export function mapStore(): CacheStore & { entries: Map<string, CacheEntry> } {
  const entries = new Map<string, CacheEntry>();
  return {
    name: 'map',
    entries,
    get: (key) => entries.get(key),
    set: (key, entry) => {
      entries.set(key, entry);
    },
    delete: (key) => entries.delete(key),
    clear: () => entries.clear(),
  };
}

let tables = 0;

/** Creates a fresh table `(key text primary key, value jsonb, seq numeric, updated_at)`; returns its name. */
export async function createTable(pool: pg.Pool, extra = ''): Promise<string> {
  const name = `writes_${process.pid}_${++tables}`;
  await pool.query(
    `CREATE TABLE ${name} (key text PRIMARY KEY, value jsonb NOT NULL, seq numeric, updated_at timestamptz${extra})`,
  );
  return name;
}

/** Every row of `table` as a key → value map. */
export async function readTable(pool: pg.Pool, table: string): Promise<Map<string, unknown>> {
  const { rows } = await pool.query<{ key: string; value: unknown }>(
    `SELECT key, value FROM ${table}`,
  );
  return new Map(rows.map((row) => [row.key, row.value]));
}

/** A pool on `server` whose idle-client errors (a dropped connection) are not fatal. */
export function createPool(server: PostgresServer, port = server.port): pg.Pool {
  const pool = new pg.Pool({ ...server.config, port, max: 4, connectionTimeoutMillis: 2000 });
  pool.on('error', () => {
    // A connection dropped while idle: the pool replaces it on the next query.
  });
  return pool;
}

/** A promise with its resolve function, to hold a writer until a test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function started<T>(result: PromiseSettledResult<T>): T | undefined {
  return result.status === 'fulfilled' ? result.value : undefined;
}

/** Whether PostgreSQL and Redis are both there (both are checked, so each missing one is listed). */
export const haveServers = [hasPostgres(), hasRedis()].every(Boolean);

/** The servers of one test file: a PostgreSQL with a pool, and a redis-server with a client. */
export interface Servers {
  postgres: PostgresServer;
  pool: pg.Pool;
  redisServer: RedisServer;
  redis: Redis;
}

/** Starts PostgreSQL and Redis before the file's tests and stops them after; fills `servers`. */
export function useServers(): Servers {
  const servers = {} as Servers;
  beforeAll(async () => {
    // If one fails to start, stop the other before failing.
    const [postgres, redisServer] = await Promise.allSettled([startPostgres(), startRedis()]);
    if (postgres.status === 'rejected' || redisServer.status === 'rejected') {
      await Promise.all([started(postgres)?.stop(), started(redisServer)?.stop()]);
      throw (postgres.status === 'rejected' ? postgres : (redisServer as PromiseRejectedResult))
        .reason;
    }
    servers.postgres = postgres.value;
    servers.redisServer = redisServer.value;
    servers.pool = createPool(servers.postgres);
    servers.redis = new Redis(servers.redisServer.url);
  });
  afterAll(async () => {
    servers.redis?.disconnect();
    await servers.pool?.end();
    await Promise.all([servers.postgres?.stop(), servers.redisServer?.stop()]);
  });
  return servers;
}
