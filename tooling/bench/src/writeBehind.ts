// `pnpm --filter @cache-tooling/bench bench:write-behind`: write-behind into PostgreSQL against
// the seed's naive loop (one awaited INSERT per write). The parent starts a PostgreSQL with its
// default, durable settings and a redis-server, then runs each contender in a child process of
// its own, so that the peak RSS it reports is that contender's. WB_WRITES (default 1M) sets the
// writes per write-behind run, WB_NAIVE_MS (default 10 s) how long the naive loop runs,
// WB_MAX_BATCH (default 1000) and WB_CONCURRENCY (default 2) the write-behind options.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { type WriteQueue, writeBehind } from '@cache/write-behind';
import { redisStreamQueue } from '@cache/write-behind/redis';
import { startPostgres } from '@cache-tooling/postgres-server';
import { startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import pg from 'pg';
import { postgresWriter } from '../../../packages/write-behind/examples/postgresWriter.js';
import { table } from './harness.js';

interface Settings {
  pg: pg.PoolConfig;
  redis: string;
  table: string;
  writes: number;
  naiveMs: number;
  maxBatch: number;
  concurrency: number;
}

interface Outcome {
  writes: number;
  seconds: number;
  peakRss: number;
  maxDepth: number;
}

const CONTENDERS = {
  'naive loop (seed): await INSERT per write': naive,
  'write-behind, memory queue': (settings: Settings) => batched(settings, undefined),
  'write-behind, Redis Streams queue': (settings: Settings) =>
    batched(settings, redisStreamQueue({ client: new Redis(settings.redis), stream: 'bench' })),
};
type Name = keyof typeof CONTENDERS;

const valueFor = (i: number) => ({ id: i, name: `user ${i}`, visits: i % 100 });

function createTableSql(name: string): string {
  return `CREATE TABLE ${name} (key text PRIMARY KEY, value jsonb NOT NULL, seq numeric, updated_at timestamptz)`;
}

/** The seed's write-behind flush, done at write time: cache, then one INSERT, awaited, per write. */
async function naive(settings: Settings): Promise<Omit<Outcome, 'peakRss'>> {
  const pool = new pg.Pool({ ...settings.pg, max: 1 });
  const cache = createCache({ store: memoryStore({ maxEntries: 100_000 }) });
  const sql = `INSERT INTO ${settings.table} (key, value, updated_at) VALUES ($1, $2, now())
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
  const started = performance.now();
  let i = 0;
  for (; i < settings.writes && performance.now() - started < settings.naiveMs; i++) {
    const value = valueFor(i);
    await cache.set(`user:${i}`, value);
    await pool.query(sql, [`user:${i}`, JSON.stringify(value)]);
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.end();
  return { writes: i, seconds, maxDepth: 0 };
}

/** Writes through write-behind until every write is in PostgreSQL (close() resolved). */
async function batched(
  settings: Settings,
  queue: WriteQueue | undefined,
): Promise<Omit<Outcome, 'peakRss'>> {
  const pool = new pg.Pool({ ...settings.pg, max: settings.concurrency });
  const cache = createCache({ store: memoryStore({ maxEntries: 100_000 }) });
  const users = writeBehind({
    cache,
    write: postgresWriter(pool, settings.table),
    queue,
    maxBatch: settings.maxBatch,
    concurrency: settings.concurrency,
  });
  let maxDepth = 0;
  users.on('flushed', () => {
    maxDepth = Math.max(maxDepth, users.stats().depth);
  });
  const started = performance.now();
  let next = 0;
  // 64 callers, each awaiting its writes one after another, as concurrent requests of a server would.
  const caller = async () => {
    for (let i = next++; i < settings.writes; i = next++)
      await users.write(`user:${i}`, valueFor(i));
  };
  await Promise.all(Array.from({ length: 64 }, caller));
  await users.close();
  const seconds = (performance.now() - started) / 1000;
  await pool.end();
  const stats = users.stats();
  if (stats.flushed !== settings.writes || stats.deadLettered !== 0) {
    throw new Error(`lost writes: ${JSON.stringify(stats)}`);
  }
  return { writes: settings.writes, seconds, maxDepth };
}

async function child(name: Name, settings: Settings): Promise<void> {
  const outcome = await CONTENDERS[name](settings);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  process.send!({ ...outcome, peakRss } satisfies Outcome, () => process.exit(0));
}

function run(name: Name, settings: Settings): Promise<Outcome> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const process = fork(file, [name, JSON.stringify(settings)], {
      execArgv: ['--import', 'tsx'],
    });
    process.once('message', (outcome: Outcome) => resolve(outcome));
    process.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const writes = Number(process.env.WB_WRITES ?? 1_000_000);
  const naiveMs = Number(process.env.WB_NAIVE_MS ?? 10_000);
  const maxBatch = Number(process.env.WB_MAX_BATCH ?? 1000);
  const concurrency = Number(process.env.WB_CONCURRENCY ?? 2);
  // A PostgreSQL that commits like a production one: fsync and synchronous commit on.
  const postgres = await startPostgres({
    settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' },
  });
  const redis = await startRedis();
  const admin = new pg.Pool(postgres.config);
  const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!;
  const rows: string[][] = [];
  let naiveRate = 0;
  try {
    let index = 0;
    for (const name of Object.keys(CONTENDERS) as Name[]) {
      const tableName = `bench_${++index}`;
      await admin.query(createTableSql(tableName));
      const outcome = await run(name, {
        pg: postgres.config,
        redis: redis.url,
        table: tableName,
        writes,
        naiveMs,
        concurrency,
        maxBatch,
      });
      const { rows: counted } = await admin.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${tableName}`,
      );
      if (Number(counted[0]!.n) !== outcome.writes) {
        throw new Error(`${name}: ${counted[0]!.n} rows for ${outcome.writes} writes`);
      }
      const rate = outcome.writes / outcome.seconds;
      if (naiveRate === 0) naiveRate = rate;
      rows.push([
        name,
        outcome.writes.toLocaleString('en-US'),
        outcome.seconds.toFixed(1),
        `${Math.round(rate).toLocaleString('en-US')}`,
        `${(rate / naiveRate).toFixed(1)}×`,
        `${Math.round(outcome.peakRss / 2 ** 20)} MB`,
        outcome.maxDepth === 0 ? '' : outcome.maxDepth.toLocaleString('en-US'),
      ]);
    }
  } finally {
    await admin.end();
    await redis.stop();
    await postgres.stop();
  }
  console.log(
    `### write-behind into PostgreSQL\n\n${new Date().toISOString().slice(0, 10)}, node ${process.version}, PostgreSQL ${version.server_version} (fsync and synchronous_commit on), ${process.platform}/${process.arch}; one run each; values ~50 B JSON, distinct keys (no coalescing); every row counted in PostgreSQL after the run.\n\n${table(
      ['', 'writes', 's', 'writes/s', 'vs naive', 'peak RSS', 'max queue depth'],
      rows,
    )}\n\ntarget ≥ 50,000 writes/s sustained with batched upserts: ${rows
      .slice(1)
      .map((row) => `${row[0]} ${Number(row[3]!.replace(/,/g, '')) >= 50_000 ? 'met' : 'MISSED'}`)
      .join('; ')}`,
  );
}

const [, , name, settings] = process.argv;
if (name !== undefined && settings !== undefined) await child(name as Name, JSON.parse(settings));
else await main();
