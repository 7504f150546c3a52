// One worker process of a history run (forked by run.ts): the real stack (memory L1 + Redis L2 +
// bus, the Redis lock, write-behind on a Redis Stream into PostgreSQL) running random operations
// on a few shared keys, each recorded in this process's history file. IPC from the runner:
// 'hold' (run a loader that never ends, to be killed holding the lock), 'stampede' (many callers
// of one key), 'stop' (finish, drain write-behind, exit).
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createCache, type LoaderContext } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { redisBus, redisLock, redisStore } from '@cache/redis';
import { writeBehind } from '@cache/write-behind';
import { redisStreamQueue } from '@cache/write-behind/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Load, now, type Op } from './history.js';
import { HistoryLog } from './historyLog.js';
import { TracedLock } from './tracedLock.js';
import { upsertSql, type WorkerSettings } from './workerSettings.js';

const settings = JSON.parse(process.argv[2]!) as WorkerSettings;
const { worker } = settings;
const log = new HistoryLog(join(settings.dir, `worker-${worker}-${process.pid}.jsonl`));
const pool = new pg.Pool({
  ...settings.pg,
  max: 4,
  connectionTimeoutMillis: 2_000,
  query_timeout: 3_000,
});
pool.on('error', () => {}); // a connection dropped while PostgreSQL was stopped: the pool replaces it

const l2 = redisStore({ port: settings.redisPort });
const bus = redisBus({ client: l2.client, channel: 'history:bus' });
const store = multilevel({
  tiers: [memoryStore({ maxEntries: 10_000 }), l2],
  bus,
  l1Ttl: settings.l1Ttl,
});
const lock = new TracedLock(redisLock({ client: l2.client }), worker, (lease) => log.add(lease));
const cache = createCache({ store, lock, ttl: '1m' });
cache.on('error', () => {}); // failures show in the operations' answers
// The bus is back: it replayed what it missed ('resume') or could not and L1 was dropped
// ('reconnect'). Either way this worker is no longer cut off.
bus.on('reconnect', () => log.add({ type: 'reconnect', worker, at: now() }));
bus.on('resume', (replayed) => log.add({ type: 'reconnect', worker, at: now(), replayed }));
// When this worker's store is cut off from Redis and back: its writes' invalidations can only
// reach the others once it is back.
const link = (up: boolean) => log.add({ type: 'link', worker, at: now(), up });
l2.client.on('ready', () => link(true));
l2.client.on('close', () => link(false));
l2.on('breaker', (state) => {
  if (state !== 'half-open') link(state === 'closed');
});
store.on('invalidate', ({ message }) => log.add({ type: 'received', worker, at: now(), message }));
store.on('error', ({ tier, operation, error }) => {
  if (tier !== -1) return; // a tier's failure shows in the operation's answer
  const text = String((error as Error)?.message ?? error).slice(0, 200);
  log.add({ type: 'bus-error', worker, at: now(), operation, error: text });
});

const queueClient = new Redis(settings.redisPort, { lazyConnect: false });
queueClient.on('error', () => {});
const behind = writeBehind<number>({
  cache,
  write: async (batch) => {
    const rows = batch.map(({ key, value, sequence }) => ({ key, value, seq: sequence }));
    await pool.query(upsertSql, [JSON.stringify(rows)]);
  },
  queue: redisStreamQueue({ client: queueClient, stream: 'history:writes' }),
  flushInterval: 200,
});
behind.on('error', () => {});

let nextLoad = 0;
let nextTag = 0;
const pick = (n: number) => Math.floor(Math.random() * n);

interface Value {
  version: number;
  load: string;
}

/** Runs a loader of `key` and records the run, with the lease it ran under. */
async function recordLoad(
  { key, signal }: LoaderContext<Value>,
  run: () => Promise<number | undefined>,
): Promise<Value> {
  const load: Load = {
    type: 'load',
    worker,
    key,
    id: `${worker}:${process.pid}:${nextLoad++}`,
    lease: lock.held(signal) ?? null,
    start: now(),
  };
  const version = await run();
  log.add({ ...load, end: now(), ...(version !== undefined && { version }) });
  return { version: version ?? 0, load: load.id };
}

/** The loader of the shared keys: reads the row's version. */
function loadRow(context: LoaderContext<Value>): Promise<Value> {
  const { key } = context;
  return recordLoad(context, async () => {
    const { rows } = await pool.query('SELECT version FROM items WHERE key = $1', [key]);
    return rows[0].version as number;
  });
}

async function record(
  op: Omit<Op, 'type' | 'worker' | 'start' | 'end' | 'ok'>,
  run: () => Promise<Partial<Op>>,
) {
  const start = now();
  try {
    const result = await run();
    log.add({ type: 'op', worker, ...op, start, end: now(), ok: true, ...result });
  } catch (error) {
    log.add({
      type: 'op',
      worker,
      ...op,
      start,
      end: now(),
      ok: false,
      ...(typeof (error as { version?: unknown })?.version === 'number' && {
        version: (error as { version: number }).version,
      }),
      error: String((error as Error)?.message ?? error).slice(0, 200),
    });
  }
}

async function write(key: string, variant: 'set' | 'delete' | 'tags') {
  let version: number | undefined;
  await record({ f: 'write', key, variant }, async () => {
    const { rows } = await pool.query(
      'UPDATE items SET version = version + 1 WHERE key = $1 RETURNING version',
      [key],
    );
    version = rows[0].version as number;
    let acknowledged: boolean;
    try {
      if (variant === 'set') {
        acknowledged = await cache.set(key, { version, load: 'write' }, { tags: [`key:${key}`] });
      } else if (variant === 'delete') {
        await cache.delete(key); // false for a key that was not there: no failure to tell
        acknowledged = true;
      } else {
        acknowledged = await cache.invalidateTags([`key:${key}`]);
      }
    } catch (error) {
      // The row is written: record the version even though the cache call threw.
      throw Object.assign(error as Error, { version });
    }
    return { version, acknowledged };
  }).catch(() => {});
}

async function operate(): Promise<void> {
  const key = `k${pick(settings.keys)}`;
  const roll = Math.random();
  if (roll < 0.3) {
    await record({ f: 'read', key }, async () => ({
      version: (await cache.get<Value>(key))?.version ?? null,
    }));
  } else if (roll < 0.6 && !settings.tags) {
    await record({ f: 'getOrSet', key }, async () => ({
      version: (await cache.getOrSet<Value>(key, loadRow)).version,
    }));
  } else if (roll < 0.6) {
    // Entries carry their key's tag, a group tag, and a tag never used before (the heap must
    // stay flat however many distinct tags go by).
    const tags = [`key:${key}`, `group:${pick(3)}`, `fresh:${worker}:${process.pid}:${nextTag++}`];
    await record({ f: 'getOrSet', key }, async () => ({
      version: (await cache.getOrSet<Value>(key, loadRow, { tags })).version,
    }));
  } else if (roll < 0.8) {
    await write(key, (['set', 'delete', 'tags'] as const)[pick(settings.tags ? 3 : 2)]!);
  } else if (roll < 0.9 || !settings.tags) {
    await record({ f: 'delete', key }, async () => ({ acknowledged: await cache.delete(key) }));
  } else {
    const tag =
      Math.random() < 0.5
        ? `group:${pick(3)}`
        : `fresh:${worker}:${process.pid}:${pick(nextTag + 1)}`;
    await record({ f: 'tags', key: tag }, async () => ({
      acknowledged: await cache.invalidateTags([tag]),
    }));
  }
}

let running = true;
// Set while the heap sample's forced full GC (harness work, ~10 ms) is settled: operations wait
// until the I/O that queued up meanwhile (bus messages) was read, as after any other pause.
let sampling: Promise<void> | undefined;

async function operations(): Promise<void> {
  while (running) {
    if (sampling) await sampling;
    await operate();
    await delay(pick(settings.pause));
  }
}

// Write-behind: this worker's own keys, each written with a value that grows (the time it was
// written), one write at a time, so a key's last resolved write is its greatest value.
async function behindWrites(): Promise<void> {
  while (running) {
    const key = `wb:${worker}:${pick(settings.behindKeys)}`;
    const value = now();
    const start = now();
    let ok = true;
    try {
      await behind.write(key, value);
    } catch {
      ok = false;
    }
    log.add({ type: 'wb', worker, key, value, start, end: now(), ok });
    await delay(pick(settings.pause * 2));
  }
}

async function sampleHeap(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  while (running && gc) {
    let settled!: () => void;
    sampling = new Promise((resolve) => {
      settled = resolve;
    });
    gc();
    log.add({ type: 'heap', worker, at: now(), bytes: process.memoryUsage().heapUsed });
    // Timers that came due during the GC run before the poll phase: let it run first.
    await new Promise((resolve) => setImmediate(resolve));
    sampling = undefined;
    settled();
    await delay(settings.heapInterval);
  }
}

type Command =
  | { cmd: 'hold'; key: string }
  | { cmd: 'stampede'; key: string; callers: number }
  | { cmd: 'stop' };

const loops = [
  ...Array.from({ length: settings.loops }, operations),
  behindWrites(),
  ...(settings.heapInterval > 0 ? [sampleHeap()] : []),
];

process.on('message', async (command: Command) => {
  if (command.cmd === 'hold') {
    // Runs a loader that never ends: the runner kills this process while it holds the lock.
    void cache
      .getOrSet(command.key, async ({ signal }) => {
        log.add({
          type: 'load',
          worker,
          key: command.key,
          id: `${worker}:${process.pid}:${nextLoad++}`,
          lease: lock.held(signal) ?? null,
          start: now(),
        });
        log.flush();
        process.send!({ event: 'holding', key: command.key });
        return new Promise<Value>(() => {});
      })
      .catch(() => {});
  } else if (command.cmd === 'stampede') {
    const { key, callers } = command;
    await Promise.all(
      Array.from({ length: callers }, () =>
        record({ f: 'getOrSet', key }, async () => {
          const value = await cache.getOrSet<Value>(key, (context) =>
            recordLoad(context, async () => {
              await delay(200); // a slow query: the other callers pile up on the lock
              return undefined;
            }),
          );
          return { load: value.load };
        }),
      ),
    );
    log.flush();
    process.send!({ event: 'stampeded', key });
  } else if (command.cmd === 'stop') {
    running = false;
    await Promise.allSettled(loops);
    await behind.close().catch(() => {});
    await cache.close().catch(() => {});
    queueClient.disconnect();
    await pool.end().catch(() => {});
    log.close();
    process.exit(0);
  }
});

// Ready once the bus listens: the multilevel store subscribes in the background, and this
// subscription shares its connection and its first SUBSCRIBE (so a fault injected right after
// start does not hit a subscription still under way: see finding 4 of the README).
try {
  (await bus.subscribe(() => {}))();
} catch (error) {
  const text = String((error as Error)?.message ?? error).slice(0, 200);
  log.add({ type: 'bus-error', worker, at: now(), operation: 'subscribe', error: text });
}
process.send!({ event: 'ready' });
