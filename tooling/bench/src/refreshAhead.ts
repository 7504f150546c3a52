// `pnpm --filter @cache-tooling/bench bench:refresh`: read latency where keys expire all the
// time. KEYS keys with a TTL of TTL_MS, a loader that takes LOADER_MS, READERS loops reading
// uniformly random keys (yielding to the event loop every YIELD_EVERY reads, so loaders and
// timers run). Each contender is first warmed over 70% of the TTL, loading the keys in order, so
// that their expiries are spread; then every read is timed for RUN_MS. ROUNDS rounds in rotating
// order; p50 and p99 are the medians of the rounds', max the largest, "waited" the reads that
// took 10 ms or more (that waited for a loader) per round, median. The reference row is an L1
// hit: the same reads with a TTL of an hour.

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CacheOptions, createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache as createCacheManager } from 'cache-manager';
import { median, table } from './harness.js';

const KEYS = Number(process.env.REFRESH_KEYS ?? 200);
const TTL_MS = Number(process.env.REFRESH_TTL ?? 1_000);
const LOADER_MS = 20;
const READERS = 8;
const YIELD_EVERY = 20;
const RUN_MS = Number(
  process.env.REFRESH_RUN_MS ?? (process.env.BENCH_QUICK === '1' ? 1_000 : 3_000),
);
const ROUNDS = Number(process.env.REFRESH_ROUNDS ?? (process.env.BENCH_QUICK === '1' ? 1 : 3));
const WAITED_MS = 10;
// The warm-up spreads the first loads over this much of the TTL: none may expire before the run.
const WARM_MS = 0.7 * TTL_MS;

// A contender's read; ours also count the reads that found no fresh value (stats().misses).
type Read = ((key: string) => Promise<unknown>) & { misses?: () => number };
type Loader = () => Promise<number>;

const L1_HIT = '@cache/core, every read an L1 hit (TTL 1 h: the reference)';
const NONE = '@cache/core, no refresh-ahead';
const AHEAD = '@cache/core, refresh: { ahead: 0.8 }';
const SWR = "@cache/core, swr: '10s'";
const MANAGER = `cache-manager 7 wrap, refreshThreshold ${0.2 * TTL_MS} ms`;
const BENTO = "bentocache, grace '10s' + soft timeout 0";

// Ours over a memory store with `options`; it also counts the reads that found no fresh value.
const ours =
  (options: Omit<CacheOptions, 'store'>) =>
  (load: Loader): Read => {
    const cache = createCache({ store: memoryStore({ maxEntries: 100_000 }), ...options });
    return Object.assign((key: string) => cache.getOrSet(key, load), {
      misses: () => cache.stats().misses,
    });
  };

// Each contender's read of a key, given the loader to call on a miss.
const contenders: Record<string, (load: Loader) => Read> = {
  [L1_HIT]: ours({ ttl: '1h' }),
  [NONE]: ours({ ttl: TTL_MS }),
  [AHEAD]: ours({ ttl: TTL_MS, refresh: { ahead: 0.8 } }),
  [SWR]: ours({ ttl: TTL_MS, swr: '10s' }),
  [MANAGER]: (load) => {
    const manager = createCacheManager({ ttl: TTL_MS, refreshThreshold: 0.2 * TTL_MS });
    return (key) => manager.wrap(key, load);
  },
  [BENTO]: (load) => {
    const bento = new BentoCache({
      default: 'memory',
      stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 100_000 })) },
    });
    return (key) => bento.getOrSet({ key, factory: load, ttl: TTL_MS, grace: '10s', timeout: 0 });
  },
};

interface Round {
  misses: number | undefined;
  p50: number;
  p99: number;
  max: number;
  waited: number;
  reads: number;
  loads: number;
}

async function run(name: string): Promise<Round> {
  let loads = 0;
  const load: Loader = async () => {
    loads++;
    await sleep(LOADER_MS);
    return loads;
  };
  const read = contenders[name]!(load);
  const keys = Array.from({ length: KEYS }, (_, i) => `k:${i}`);
  // Warm-up: the keys loaded in order over one TTL, so that they expire spread out.
  const slices = 50;
  const warming: Promise<unknown>[] = [];
  const started = performance.now();
  for (let s = 0; s < slices; s++) {
    const from = Math.floor((s * KEYS) / slices);
    const to = Math.floor(((s + 1) * KEYS) / slices);
    for (const key of keys.slice(from, to)) warming.push(read(key));
    await sleep(started + ((s + 1) * WARM_MS) / slices - performance.now());
  }
  await Promise.all(warming);
  loads = 0;
  const missesBefore = read.misses?.();
  const latencies: number[] = [];
  const end = performance.now() + RUN_MS;
  const reader = async () => {
    while (performance.now() < end) {
      for (let i = 0; i < YIELD_EVERY; i++) {
        const key = keys[Math.floor(Math.random() * KEYS)]!;
        const start = performance.now();
        await read(key);
        latencies.push(performance.now() - start);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(Array.from({ length: READERS }, reader));
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  const waited = latencies.length - latencies.findIndex((ms) => ms >= WAITED_MS);
  return {
    misses: missesBefore === undefined ? undefined : read.misses!() - missesBefore,
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1)!,
    waited: latencies.at(-1)! >= WAITED_MS ? waited : 0,
    reads: latencies.length,
    loads,
  };
}

const names = Object.keys(contenders);
const rounds = new Map<string, Round[]>(names.map((name) => [name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + r) % names.length]!;
    rounds.get(name)!.push(await run(name));
    // Let the previous contender's background loads end before the next one starts.
    await sleep(100);
  }
}

const us = (ms: number) => (ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} µs`);
const hitP99 = median(rounds.get(L1_HIT)!.map((round) => round.p99));
console.log(
  `### Refresh-ahead: ${KEYS} keys, TTL ${TTL_MS} ms, loader ${LOADER_MS} ms, ${READERS} readers, ${RUN_MS} ms per run, ${ROUNDS} rounds (median per round; max over all)\n`,
);
console.log(
  table(
    [
      '',
      'p50',
      'p99',
      'p99 / L1-hit p99',
      'max',
      `reads ≥ ${WAITED_MS} ms`,
      'reads',
      'loader calls',
      'reads that found no fresh value',
    ],
    names.map((name) => {
      const rs = rounds.get(name)!;
      const p99 = median(rs.map((round) => round.p99));
      return [
        name,
        us(median(rs.map((round) => round.p50))),
        us(p99),
        `${(p99 / hitP99).toFixed(2)}×`,
        us(Math.max(...rs.map((round) => round.max))),
        String(median(rs.map((round) => round.waited))),
        String(median(rs.map((round) => round.reads))),
        String(median(rs.map((round) => round.loads))),
        rs[0]!.misses === undefined ? 'n/a' : String(median(rs.map((round) => round.misses!))),
      ];
    }),
  ),
);
process.exit(0);
