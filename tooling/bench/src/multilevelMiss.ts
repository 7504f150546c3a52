// Table (i): cold misses through a memory L1 over a Redis L2 (with a bus), ever-new keys, so
// every call misses both tiers, runs the loader and stores what it returns. The contenders of
// tables (g) and (h), each in its own process (src/worker.ts), on the redis-server of
// multilevel.ts. (i1): one caller awaiting one call after another (latency, in Redis GET round
// trips); (i2): 200 concurrent callers (ops/s).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { baselineCaption, isBefore, withBefore } from './baseline.js';
import {
  formatRate,
  type Method,
  measureIsolated,
  median,
  type Result,
  type Run,
  ratio,
  type Setup,
  table,
} from './harness.js';
import {
  acquireRedis,
  type Built,
  build,
  config,
  jsonValue,
  OURS,
  OURS_BEFORE,
  PEERS,
  redisVersion,
  releaseRedis,
  versions,
} from './multilevel.js';

/** Concurrent callers of (i2), each awaiting one getOrSet before the next (as in (e) and (h)). */
const CALLERS = 200;
/** L1 capacity in every contender (all LRU): full after the first 10k misses, then every miss evicts. */
const CAPACITY = 10_000;
/** Calls whose Redis commands are counted, once per process after setup. */
const COUNTED = 1000;
/** (i1)'s yardstick: one awaited ioredis GET of a ~100 B value on the same server. */
export const GET = 'ioredis GET, awaited (1 round trip)';

/** The loader's one answer, for every key: a ~100 B object (as in (g) and (h)). */
const VALUE = jsonValue(42);
const VALUE_TEXT = JSON.stringify(VALUE);

/** Contenders of (i1), in row order ("(before)" only with BENCH_BASELINE). */
export const sequentialNames = withBefore([GET, OURS, ...PEERS], [OURS]);
/** Contenders of (i2), in row order. */
export const concurrentNames = withBefore([OURS, ...PEERS], [OURS]);

/** What each timed run of (i1) reports: latency percentiles in ms, and the commands per call. */
interface Report {
  p50?: number;
  p99?: number;
  /** Redis commands per call by command name, counted once after setup. */
  commands: Record<string, number>;
}

function checked(name: string, key: string, answer: unknown): void {
  const value = answer as typeof VALUE | undefined;
  if (value?.id !== VALUE.id || value.email !== VALUE.email) {
    throw new Error(`${name} answered ${key} with ${JSON.stringify(answer)}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The Redis commands the server ran while `work` ran and 100 ms after, per call, by command
 * (`INFO commandstats` deltas; the INFO calls themselves are left out). Other processes sit idle meanwhile: the
 * harness starts them one by one.
 */
export async function commandsPerCall(
  admin: Redis,
  calls: number,
  work: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const snapshot = async () => {
    const counts = new Map<string, number>();
    for (const [, command, count] of (await admin.info('commandstats')).matchAll(
      /^cmdstat_(\S+?):calls=(\d+)/gm,
    )) {
      counts.set(command!, Number(count));
    }
    return counts;
  };
  const before = await snapshot();
  await work();
  await sleep(100); // writes a miss leaves in flight (stored in the background) land meanwhile
  const after = await snapshot();
  const perCall: Record<string, number> = {};
  for (const [command, count] of after) {
    const delta = count - (before.get(command) ?? 0);
    if (command !== 'info' && delta > 0) perCall[command] = delta / calls;
  }
  return perCall;
}

/** `{ get: 1, set: 1 }` as `2.00 (get 1.00, set 1.00)`. */
function formatCommands(commands: Record<string, number> | undefined): string {
  if (commands === undefined) return '';
  const entries = Object.entries(commands).sort(([, a], [, b]) => b - a);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  const each = entries.map(([command, count]) => `${command} ${count.toFixed(2)}`).join(', ');
  return `${total.toFixed(2)} (${each})`;
}

/**
 * Builds contender `name` for ever-new keys: `call()` asks for a key no call, round or process
 * used before (a random id of this process and a counter), checks the answer, and fails when the
 * loader did not run (the key was found in a tier); a few keys are kept to be read back from the
 * L2 after each run.
 */
async function contender(name: string, concurrent: boolean) {
  const id = randomBytes(6).toString('hex');
  // Key prefix and bus channel of this process alone: with several processes per contender, the
  // idle ones would otherwise receive (and act on) every invalidation the measured one publishes.
  const where = config(`ml-miss:${id}`, name, CAPACITY);
  const admin = new Redis(where.port);
  let next = 0;
  let loads = 0;
  const load = () => {
    loads++;
    return VALUE;
  };
  let built: Pick<Built, 'op' | 'l2Key' | 'readL2'>;
  if (name === GET) {
    const client = new Redis(where.port);
    const key = `${where.prefix}value`;
    await client.set(key, VALUE_TEXT);
    built = { op: () => client.get(key), l2Key: () => key };
  } else {
    built = await build(name, load, where);
  }
  const op = built.op;
  const samples: string[] = [];
  const call = async () => {
    const key = `${id}:${next++}`;
    const answer = await op(key);
    if (name === GET) {
      if (answer !== VALUE_TEXT) throw new Error(`${name} answered ${answer}`);
    } else {
      checked(name, key, answer);
      if ((next & 1023) === 0 && samples.length < 8) samples.push(key);
    }
  };
  /** Fails unless every call of the batch ran the loader: each one missed both tiers. */
  const missedAll = async <T>(calls: number, batch: () => Promise<T>): Promise<T> => {
    const before = loads;
    const result = await batch();
    if (name !== GET && loads - before !== calls) {
      throw new Error(
        `${name}: ${calls - (loads - before)} of ${calls} calls did not run the loader`,
      );
    }
    return result;
  };
  /** Fails unless the L2 holds the sampled keys' value (waiting up to 1 s for a lagging write). */
  const readBack = async () => {
    for (const key of samples.splice(0)) {
      const deadline = performance.now() + 1000;
      for (;;) {
        const text = await admin.get(built.l2Key(key));
        const decoded = built.readL2 === undefined ? VALUE : await built.readL2(key);
        if (text?.includes(VALUE.email) && (decoded as typeof VALUE)?.email === VALUE.email) break;
        if (performance.now() > deadline) {
          throw new Error(`${name}: Redis does not hold ${built.l2Key(key)} (read ${text})`);
        }
        await sleep(5);
      }
    }
  };
  const calls = async (n: number): Promise<void> => {
    if (!concurrent) {
      for (let i = 0; i < n; i++) await call();
      return;
    }
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        for (let i = 0; i < n / CALLERS; i++) await call();
      }),
    );
  };
  // Checked calls first, and their values read back from Redis; then the commands of a miss.
  await missedAll(COUNTED, () => calls(COUNTED));
  if (name !== GET) {
    samples.push(`${id}:${next - 1}`);
    await readBack();
  }
  const commands = await commandsPerCall(admin, COUNTED, () => calls(COUNTED));
  return { call, calls, missedAll, readBack, commands };
}

/**
 * (i1) One caller awaiting one call after another, every call a new key. Each run records every
 * call's latency and reports the run's p50 and p99, after reading back sampled keys from Redis.
 */
export const sequential: Record<string, Setup> = Object.fromEntries(
  sequentialNames.map((name): [string, Setup] => [
    name,
    async () => {
      const { call, missedAll, readBack, commands } = await contender(name, false);
      const latencies = new Float64Array(1 << 20);
      let count = 0;
      const run: Run = (n) =>
        missedAll(n, async () => {
          for (let i = 0; i < n; i++) {
            const started = performance.now();
            await call();
            if (count < latencies.length) latencies[count++] = performance.now() - started;
          }
        });
      run.report = async (): Promise<Report> => {
        const sorted = latencies.slice(0, count).sort();
        count = 0;
        await readBack();
        return {
          p50: sorted[Math.floor(sorted.length * 0.5)]!,
          p99: sorted[Math.floor(sorted.length * 0.99)]!,
          commands,
        };
      };
      return run;
    },
  ]),
);

/** (i2) {@link CALLERS} concurrent callers, each awaiting one call after another, every call a new key. */
export const concurrent: Record<string, Setup> = Object.fromEntries(
  concurrentNames.map((name): [string, Setup] => [
    name,
    async () => {
      const { calls, missedAll, readBack, commands } = await contender(name, true);
      const run: Run = (n) => {
        const each = Math.ceil(n / CALLERS) * CALLERS;
        return missedAll(each, () => calls(each));
      };
      run.report = async (): Promise<Report> => {
        await readBack();
        return { commands };
      };
      return run;
    },
  ]),
);

/** Each round's report: the mean of its processes' percentiles, the first one's commands. */
function reports(result: Result): Report[] {
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return (result.extras ?? []).map((round) => {
    const each = round as Report[];
    const report: Report = { commands: each[0]!.commands };
    if (each[0]!.p50 !== undefined) {
      report.p50 = mean(each.map((one) => one.p50!));
      report.p99 = mean(each.map((one) => one.p99!));
    }
    return report;
  });
}

function row(results: Result[], name: string): Result {
  return results.find((result) => result.name === name)!;
}

function label(name: string): string {
  return isBefore(name) ? 'before' : 'ours';
}

/** (i1) and (i2) as markdown sections, with the targets of PERFORMANCE.md. */
export async function multilevelMissTable(method: Method): Promise<string> {
  const redis = await acquireRedis();
  try {
    const head = `redis-server ${await redisVersion(redis.port)} on loopback (started by the bench); ${versions()}`;
    const ours = concurrentNames.filter((name) => name === OURS || name === OURS_BEFORE);
    // Each contender in method.processes processes (3 in a full run, as (a), (b) and (d)): with
    // one, ours and "(before)" with no change on the miss path measured 1.22× apart at p50.
    const processes = method.processes ?? 1;

    // (i1): small batches, so that a run ends close to its time.
    const one: Method = {
      ...method,
      rounds: Math.max(method.rounds, 9),
      batch: 250,
      processes,
      setupOneByOne: true,
    };
    const latency = await measureIsolated('multilevelMiss:sequential', sequentialNames, one);
    const get = reports(row(latency, GET));
    const inRoundTrips = (name: string) =>
      median(reports(row(latency, name)).map((report, round) => report.p50! / get[round]!.p50!));
    const ms = (value: number) => `${(value * 1000).toFixed(0)} µs`;
    const i1 = table(
      ['', 'p50', 'p99', 'p50 in Redis GET round trips', 'Redis commands per call'],
      latency.map((result) => {
        const each = reports(result);
        return [
          result.name,
          ms(median(each.map((report) => report.p50!))),
          ms(median(each.map((report) => report.p99!))),
          inRoundTrips(result.name).toFixed(2),
          formatCommands(each[0]?.commands),
        ];
      }),
    );
    const i1Verdicts = ours.map((name) => {
      const trips = inRoundTrips(name);
      return `${label(name)}: p50 = ${trips.toFixed(2)} Redis GET round trips (target ≤ 1.5: ${trips <= 1.5 ? 'met' : 'MISSED'})`;
    });
    if (ours.includes(OURS_BEFORE)) {
      const p50s = (name: string) => reports(row(latency, name)).map((report) => report.p50!);
      const before = p50s(OURS_BEFORE);
      const paired = median(p50s(OURS).map((p50, round) => p50 / before[round]!));
      i1Verdicts.push(`ours p50 / before p50 = ${paired.toFixed(2)} (paired per round)`);
    }

    // (i2): as tables (e) and (h), at least 9 rounds, batches of at most 10k calls.
    const many: Method = {
      ...method,
      rounds: Math.max(method.rounds, 9),
      batch: Math.min(method.batch, 10_000),
      processes,
      setupOneByOne: true,
    };
    const rates = await measureIsolated('multilevelMiss:concurrent', concurrentNames, many);
    const i2 = table(
      ['', 'ops/s', 'vs ours', 'Redis commands per call'],
      rates.map((result) => [
        result.name,
        formatRate(result.opsPerSecond),
        `${ratio(rates, result.name, OURS).toFixed(2)}×`,
        formatCommands(reports(result)[0]?.commands),
      ]),
    );
    const i2Verdicts = ours.map((name) => {
      // Against the best peer of each round.
      const peers = PEERS.map((peer) => row(rates, peer).samples);
      const best = median(
        row(rates, name).samples.map(
          (rate, round) => rate / Math.max(...peers.map((samples) => samples[round]!)),
        ),
      );
      const each = PEERS.map(
        (peer) => `${label(name)} / ${peer} = ${ratio(rates, name, peer).toFixed(2)}`,
      );
      return `${label(name)} / best peer of each round = ${best.toFixed(2)} (target ≥ 1.3: ${best >= 1.3 ? 'met' : 'MISSED'}); ${each.join('; ')}`;
    });
    if (ours.includes(OURS_BEFORE)) {
      i2Verdicts.push(
        `ours / before = ${ratio(rates, OURS, OURS_BEFORE).toFixed(2)} (paired per round)`,
      );
    }

    return [
      `### (i1) getOrSet cold misses (every key new, so every call misses L1 and Redis and runs the loader), memory L1 + Redis L2 (+ bus), one caller awaiting one call after another, ~100 B values`,
      `${head}; median of ${one.rounds} rounds of ${method.runMs} ms; round trips are each round's p50 over the p50 of the GET row in the same round, median over rounds; commands counted with INFO commandstats over ${COUNTED} calls per process`,
      baselineCaption(),
      i1,
      i1Verdicts.join('; '),
      `### (i2) getOrSet cold misses, ${CALLERS} concurrent callers each awaiting one call after another, every key new, memory L1 + Redis L2 (+ bus), ~100 B values`,
      `${head}; median of ${many.rounds} rounds of ${method.runMs} ms; commands counted over ${COUNTED} calls per process`,
      baselineCaption(),
      i2,
      i2Verdicts.join('; '),
    ]
      .filter((line) => line !== '')
      .join('\n\n');
  } finally {
    releaseRedis();
  }
}
