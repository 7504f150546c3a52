// `pnpm --filter @cache-tooling/bench bench:many`: getOrSetMany against getOrSet per key, over a
// memory L1 and a Redis L2 (multilevel), with a database that answers any query in DB_MS.
// Batches of BATCH keys, in two workloads: cold (no tier holds the keys: everything loads) and
// L2-warm (Redis holds them, this process's L1 does not: a fresh process reading them). Keys/s
// over ROUNDS batches (median of the batches' rates), loader calls and Redis commands per batch
// (INFO commandstats deltas, with the background writes of the batch).

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cache, createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { redisStore } from '@cache/redis';
import { startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { median, table } from './harness.js';
import { commandsPerCall } from './multilevelMiss.js';

const BATCH = Number(process.env.MANY_BATCH ?? 100);
const ROUNDS = Number(process.env.MANY_ROUNDS ?? (process.env.BENCH_QUICK === '1' ? 3 : 15));
const DB_MS = 2;

type Row = { id: string; name: string };
const db = {
  calls: 0,
  async find(ids: string[]): Promise<Row[]> {
    db.calls++;
    await sleep(DB_MS);
    return ids.map((id) => ({ id, name: `user ${id}` }));
  },
};

type Read = (cache: Cache, keys: string[]) => Promise<unknown[]>;
const contenders: Record<string, Read> = {
  'getOrSetMany (one batch loader call)': async (cache, keys) =>
    (await cache.getOrSetMany(keys, (missing) => db.find(missing))).map((r) =>
      r.status === 'fulfilled' ? r.value : Promise.reject(r.reason),
    ),
  'getOrSet per key (Promise.all)': (cache, keys) =>
    Promise.all(keys.map((key) => cache.getOrSet(key, async () => (await db.find([key]))[0]))),
};

const server = await startRedis();
const admin = new Redis({ port: server.port, lazyConnect: true });
await admin.connect();
const caches: Cache[] = [];
const open = () => {
  const cache = createCache({
    store: multilevel({
      tiers: [memoryStore({ maxEntries: 100_000 }), redisStore({ port: server.port })],
    }),
    ttl: '1h',
  });
  caches.push(cache);
  return cache;
};

const rows: string[][] = [];
try {
  let batchNo = 0;
  for (const workload of ['cold', 'L2-warm'] as const) {
    for (const [name, read] of Object.entries(contenders)) {
      const rates: number[] = [];
      const loads: number[] = [];
      const commands: Record<string, number>[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const keys = Array.from({ length: BATCH }, (_, i) => `b${batchNo}:${i}`);
        batchNo++;
        if (workload === 'L2-warm') {
          const writer = open();
          await writer.setMany(keys.map((key) => [key, { id: key, name: `user ${key}` }]));
        }
        const cache = open(); // a fresh L1 for every batch
        await cache.get('warm-up-connection');
        const callsBefore = db.calls;
        let ms = 0;
        const counted = await commandsPerCall(admin, 1, async () => {
          const start = performance.now();
          const values = (await read(cache, keys)) as Row[];
          ms = performance.now() - start;
          if (values.some((v, i) => v?.id !== keys[i])) throw new Error(`${name} answered wrongly`);
          await cache.flush();
        });
        rates.push((BATCH / ms) * 1000);
        loads.push(db.calls - callsBefore);
        commands.push(counted);
      }
      const perBatch = (command: string) => median(commands.map((c) => c[command] ?? 0)).toFixed(0);
      rows.push([
        workload,
        name,
        `${(median(rates) / 1000).toFixed(1)} k keys/s`,
        median(loads).toFixed(0),
        perBatch('mget'),
        perBatch('get'),
        Object.entries(commands[commands.length >> 1]!)
          .map(([command, n]) => `${command} ${n}`)
          .join(', '),
      ]);
    }
  }
  console.log(
    `### getOrSetMany vs getOrSet per key: memory L1 + Redis L2 (multilevel), batches of ${BATCH} keys, database ${DB_MS} ms a query, ${ROUNDS} batches each (median)\n`,
  );
  console.log(
    table(
      [
        'workload',
        '',
        'throughput',
        'loader calls / batch',
        'MGET / batch',
        'GET / batch',
        'all Redis commands / batch',
      ],
      rows,
    ),
  );
} finally {
  await Promise.all(caches.map((cache) => cache.close()));
  admin.disconnect();
  await server.stop();
}
