import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { writeBehind } from '@cache/write-behind';
import { redisStreamQueue } from '@cache/write-behind/redis';
import { track } from '@cache-tooling/config/processes';
import { startPostgres } from '@cache-tooling/postgres-server';
import { startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Entry, NEMESIS_KINDS, type NemesisKind, now, readHistory } from './history.js';
import { HistoryLog } from './historyLog.js';
import { pausePostgres } from './pgPause.js';
import { WorkerProcess } from './workerProcess.js';
import { schemaSql, upsertSql, type WorkerSettings } from './workerSettings.js';

/** Options of {@link runHistory}; durations in ms. */
export interface RunOptions {
  /**
   * How long the nemesis keeps injecting faults: rounds of one fault of each kind, the last
   * round started before the time is up finished whole.
   */
  duration: number;
  /** The fewest rounds, however short `duration`. @default 1 */
  rounds?: number;
  /** The kinds of fault, injected in this order, round after round. @default every kind */
  kinds?: readonly NemesisKind[];
  /** Worker processes (worker 0 is never killed, and samples its heap). @default 4 */
  workers?: number;
  /** Shared keys. @default 8 */
  keys?: number;
  /** Concurrent operation loops per worker. @default 2 */
  loops?: number;
  /** The most a loop pauses between two operations. @default 10 */
  pause?: number;
  /** How long Redis stays frozen (SIGSTOP). @default 3000 */
  redisPause?: number;
  /** How long PostgreSQL stays frozen. @default 10000 */
  pgPause?: number;
  /** The calm between two faults. @default 3000 */
  quiet?: number;
  /** Callers per surviving worker when a lock holder is killed. @default 250 */
  callers?: number;
  /** The workers' multilevel `l1Ttl`. @default '5s' */
  l1Ttl?: string;
  /** Whether the operations use tags (off: to tell whether a finding depends on them). @default true */
  tags?: boolean;
  /** ms between heap samples of worker 0. @default 2000 */
  heapInterval?: number;
  /** Where the history files go. @default a new temporary directory, deleted at exit unless `keep` */
  dir?: string;
  /** Keep the history directory. @default false */
  keep?: boolean;
  /** Progress lines. @default none */
  progress?: (line: string) => void;
}

/** What {@link runHistory} returns. */
export interface RunResult {
  /** Every entry of every history file. */
  entries: Entry[];
  /** The directory of the history files. */
  dir: string;
  /** Workers that exited without the runner killing them, and faults that failed to run. */
  failures: string[];
}

/**
 * Starts Redis (with AOF, so that write-behind's stream survives a SIGKILL) and PostgreSQL, forks
 * the workers, injects faults for `duration`, stops the workers, drains what write-behind left
 * pending (claiming dead consumers' writes), records the final rows, stops the servers and
 * returns the history. Every process it starts is tracked, so none outlives it.
 */
export async function runHistory(options: RunOptions): Promise<RunResult> {
  const kinds = options.kinds ?? NEMESIS_KINDS;
  const count = options.workers ?? 4;
  const quiet = options.quiet ?? 3_000;
  const progress = options.progress ?? (() => {});
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cache-history-'));
  const forgetDir = options.keep ? () => {} : track({ dir });
  const log = new HistoryLog(join(dir, 'runner.jsonl'));
  const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const postgres = await startPostgres();
  const pool = new pg.Pool({ ...postgres.config, max: 2, query_timeout: 30_000 });
  pool.on('error', () => {});
  const admin = new Redis(redis.port, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const failures: string[] = [];
  const workers: WorkerProcess[] = [];
  try {
    await pool.query(schemaSql);
    const keys = options.keys ?? 8;
    await pool.query(
      `INSERT INTO items (key, version) SELECT 'k' || n, 0 FROM generate_series(0, ${keys - 1}) AS n`,
    );
    const settingsOf = (worker: number): WorkerSettings => ({
      worker,
      dir,
      redisPort: redis.port,
      pg: postgres.config,
      keys,
      behindKeys: 20,
      loops: options.loops ?? 2,
      pause: options.pause ?? 10,
      l1Ttl: options.l1Ttl ?? '5s',
      tags: options.tags ?? true,
      heapInterval: worker === 0 ? (options.heapInterval ?? 2_000) : 0,
    });
    const start = async (worker: number) => {
      const process = await WorkerProcess.start(settingsOf(worker));
      process.child.once('exit', (code, signal) => {
        if (!process.killed) failures.push(`worker ${worker} exited (${code ?? signal})`);
      });
      workers[worker] = process;
    };
    await Promise.all(Array.from({ length: count }, (_, worker) => start(worker)));
    progress(`${count} workers running; history in ${dir}`);
    await delay(quiet);

    // Worker 0 is never killed: its heap is sampled across the whole run.
    const victim = () => 1 + Math.floor(Math.random() * (count - 1));
    let lockKeys = 0;
    const faults: Record<NemesisKind, () => Promise<void>> = {
      'redis-kill': async () => {
        const at = now();
        await redis.kill();
        await delay(500);
        await redis.restart();
        log.add({ type: 'nemesis', kind: 'redis-kill', start: at, end: now() });
      },
      'redis-pause': async () => {
        const at = now();
        redis.pause();
        await delay(options.redisPause ?? 3_000);
        redis.resume();
        log.add({ type: 'nemesis', kind: 'redis-pause', start: at, end: now() });
      },
      'pubsub-kill': async () => {
        const at = now();
        await admin.client('KILL', 'TYPE', 'pubsub');
        log.add({ type: 'nemesis', kind: 'pubsub-kill', start: at, end: now() });
      },
      'worker-kill': async () => {
        const worker = victim();
        const at = now();
        await workers[worker]!.kill();
        await start(worker);
        log.add({ type: 'nemesis', kind: 'worker-kill', start: at, end: now(), worker });
      },
      'lock-holder-kill': async () => {
        const worker = victim();
        const key = `lock:${lockKeys++}`;
        const holder = workers[worker]!;
        const holding = holder.next('holding', key, 30_000);
        holder.send({ cmd: 'hold', key });
        await holding;
        const survivors = workers.filter((_, i) => i !== worker);
        const served = survivors.map((survivor) => survivor.next('stampeded', key, 120_000));
        for (const survivor of survivors) {
          survivor.send({ cmd: 'stampede', key, callers: options.callers ?? 250 });
        }
        await delay(300); // the survivors' callers are waiting on the lock now
        const at = now();
        await holder.kill();
        await Promise.all(served);
        log.add({ type: 'nemesis', kind: 'lock-holder-kill', start: at, end: now(), worker, key });
        await start(worker);
      },
      'pg-pause': async () => {
        const at = now();
        const resume = await pausePostgres(pool);
        await delay(options.pgPause ?? 10_000);
        resume();
        log.add({ type: 'nemesis', kind: 'pg-pause', start: at, end: now() });
      },
    };
    const until = Date.now() + options.duration;
    const rounds = options.rounds ?? 1;
    for (let round = 0; round < rounds || Date.now() < until; round++) {
      for (const kind of kinds) {
        progress(`round ${round + 1}: ${kind}`);
        try {
          await faults[kind]();
        } catch (error) {
          // The run goes on (the fault is not in the history): the caller sees it as a failure.
          failures.push(`nemesis ${kind} failed: ${(error as Error).message}`);
        }
        log.flush();
        await delay(quiet);
      }
    }
    progress('stopping the workers');
    await Promise.all(workers.map((worker) => worker.stop(60_000)));
    // Drain what the dead consumers left pending, claiming it at once: their writes reach the
    // database after newer ones, which the upsert's sequence guard must keep out.
    const drainer = new Redis(redis.port);
    drainer.on('error', () => {});
    const drain = writeBehind<number>({
      write: async (batch) => {
        const rows = batch.map(({ key, value, sequence }) => ({ key, value, seq: sequence }));
        await pool.query(upsertSql, [JSON.stringify(rows)]);
      },
      queue: redisStreamQueue({ client: drainer, stream: 'history:writes', claimIdle: 0 }),
      flushInterval: 50,
    });
    await drain.close();
    drainer.disconnect();
    const { rows } = await pool.query('SELECT key, value FROM behind');
    for (const row of rows) log.add({ type: 'row', key: row.key, value: Number(row.value) });
    log.close();
    return { entries: readHistory(dir), dir, failures };
  } finally {
    for (const worker of workers) if (worker) await worker.kill();
    admin.disconnect();
    await pool.end().catch(() => {});
    await redis.stop().catch(() => {});
    await postgres.stop().catch(() => {});
    if (!options.keep) {
      rmSync(dir, { recursive: true, force: true });
      forgetDir();
    }
  }
}
