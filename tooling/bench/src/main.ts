// `pnpm bench` from the repository root runs every table; `pnpm bench get set` runs some of them.
// BENCH_QUICK=1 shortens every run (for trying the harness, not for results).

import { readFileSync } from 'node:fs';
import { baselineCaption, before } from './baseline.js';
import {
  PEERS as GET_OR_SET_PEERS,
  getOrSetNames,
  LIMIT,
  LRU_FETCH,
  OURS as OURS_GET_OR_SET,
  OURS_BEFORE as OURS_GET_OR_SET_BEFORE,
  OURS_OTEL as OURS_GET_OR_SET_OTEL,
  OURS_SUBSCRIBED as OURS_GET_OR_SET_SUBSCRIBED,
} from './getOrSet.js';
import {
  type Method,
  measureIsolated,
  median,
  probe,
  type Result,
  rateTable,
  ratio,
  table,
} from './harness.js';
import { hitRatios, hitRatioTables, hitRatioVerdicts } from './hitRatio.js';
import {
  CAPACITY,
  footprintNames,
  getNames,
  HOT,
  LRU_CACHE,
  LRU_CACHE_TTL,
  MNEMONIST,
  OURS,
  OURS_TINYLFU,
  setNames,
} from './memory.js';
import { multilevelL2Table, multilevelTable } from './multilevel.js';
import { multilevelMissTable } from './multilevelMiss.js';
import { redisClusterTable, redisTable } from './redis.js';
import { listenerCost } from './subscribers.js';

const quick = process.env.BENCH_QUICK === '1';
const method: Method = quick
  ? { warmupMs: 100, runMs: 200, rounds: 3, batch: 10_000 }
  : { warmupMs: 2000, runMs: 1000, rounds: 9, batch: 100_000 };
// Tables (a), (b), (d) and (i) run each contender in 3 processes: identical code measured 10% apart
// from one process to the next.
const isolated: Method = { ...method, processes: quick ? 1 : 3 };
const PEERS = [
  'mnemonist',
  'quick-lru',
  'tiny-lru',
  'lru-cache',
  'bentocache',
  'cache-manager',
  'keyv',
  '@neophi/sieve-cache',
];

function version(name: string): string {
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

function verdict(
  results: Result[],
  checks: [reference: string, target: number][],
  ours = OURS,
  label = 'ours',
): string {
  return checks
    .map(([reference, target]) => {
      const value = ratio(results, ours, reference);
      return `${label} / ${reference} = ${value.toFixed(2)} (target ≥ ${target}: ${value >= target ? 'met' : 'MISSED'})`;
    })
    .join('; ');
}

const memoryTargets: [string, number][] = [
  [MNEMONIST, 1],
  [LRU_CACHE_TTL, 2],
];
// The TinyLFU policy counts each hit in its sketch: its get has a target of its own.
const tinyLfuGetTargets: [string, number][] = [[MNEMONIST, 0.8]];
const tinyLfuVerdict = (results: Result[], targets: [string, number][]) =>
  verdict(results, targets, OURS_TINYLFU, 'tinylfu');
// With BENCH_BASELINE: the baseline's code and each policy's ratio to it, paired per round.
function memoryBefore(results: Result[]): string {
  const policies = [OURS, OURS_TINYLFU].filter((name) =>
    results.some((result) => result.name === before(name)),
  );
  if (policies.length === 0) return '';
  const ratios = policies.map(
    (name) =>
      `${name === OURS ? 'ours' : 'tinylfu'} / before = ${ratio(results, name, before(name)).toFixed(2)}`,
  );
  return `\n\n${baselineCaption()}; ${ratios.join('; ')} (paired per round)`;
}

const tables: Record<string, () => Promise<string>> = {
  async get() {
    const results = await measureIsolated('memory:get', getNames, isolated);
    return `### (a) memory get, ${CAPACITY / 1000}k entries, uniform keys, all hits\n\n${rateTable(results, MNEMONIST)}\n\n${verdict(results, memoryTargets)}; ${tinyLfuVerdict(results, tinyLfuGetTargets)}${memoryBefore(results)}`;
  },
  async hot() {
    const results = await measureIsolated('memory:hot', getNames, isolated);
    return `### (a2) memory get, ${CAPACITY / 1000}k entries, ${HOT.toLocaleString('en')} hot keys among them, all hits\n\n${rateTable(results, MNEMONIST)}\n\n${verdict(results, memoryTargets)}; ${tinyLfuVerdict(results, tinyLfuGetTargets)}${memoryBefore(results)}`;
  },
  async set() {
    const results = await measureIsolated('memory:set', setNames, isolated);
    return `### (b) memory set, ${CAPACITY / 1000}k capacity, keys uniform over 2× that (about half the sets evict)\n\n${rateTable(results, MNEMONIST)}\n\n${verdict(results, memoryTargets)}; ${tinyLfuVerdict(results, [[MNEMONIST, 0]])} (no target)${memoryBefore(results)}`;
  },
  async footprint() {
    const rows: { name: string; bytes: number }[] = [];
    for (const name of footprintNames) {
      const samples: number[] = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) samples.push(await probe('memory:footprint', name));
      rows.push({ name, bytes: median(samples) });
    }
    const base = rows.find((row) => row.name === LRU_CACHE)!.bytes;
    return `### (c) memory per entry, ${CAPACITY / 1000}k small entries (heapUsed + arrayBuffers after GC, keys and entry objects excluded; median of ${quick ? 1 : 3} fresh processes)\n\n${table(
      ['', 'bytes/entry', `vs ${LRU_CACHE}`],
      rows.map((row) => [row.name, row.bytes.toFixed(1), `${(row.bytes / base).toFixed(2)}×`]),
    )}`;
  },
  async getOrSet() {
    const results = await measureIsolated('getOrSet:getOrSet', getOrSetNames, isolated);
    const targets = (ours: string, label: string) => {
      const vsFetch = ratio(results, ours, LRU_FETCH);
      const share = ratio(results, ours, LIMIT);
      // Against the faster of the two multi-tier peers of each round: the smallest of the ratios.
      const vsPeers = Math.min(...GET_OR_SET_PEERS.map((peer) => ratio(results, ours, peer)));
      return `${label} / ${LRU_FETCH} = ${vsFetch.toFixed(2)} (target ≥ 1.0: ${vsFetch >= 1 ? 'met' : 'MISSED'}); ${label} / async limit = ${(share * 100).toFixed(0)}% (target ≥ 80%: ${share >= 0.8 ? 'met' : 'MISSED'}); ${label} / faster of bentocache and cache-manager = ${vsPeers.toFixed(1)} (target ≥ 10: ${vsPeers >= 10 ? 'met' : 'MISSED'})`;
    };
    const lines = [
      '### (d) getOrSet where every call is an L1 hit, 10k hot keys, awaited in sequence',
      baselineCaption(),
      rateTable(results, LIMIT),
      targets(OURS_GET_OR_SET, 'ours'),
    ];
    if (getOrSetNames.includes(OURS_GET_OR_SET_BEFORE)) {
      lines.push(
        targets(OURS_GET_OR_SET_BEFORE, 'before'),
        `ours / before = ${ratio(results, OURS_GET_OR_SET, OURS_GET_OR_SET_BEFORE).toFixed(2)} (paired per round)`,
      );
    }
    lines.push(
      listenerCost(results, OURS_GET_OR_SET, OURS_GET_OR_SET_SUBSCRIBED, OURS_GET_OR_SET_OTEL),
    );
    return lines.filter((line) => line !== '').join('\n\n');
  },
  async 'hit-ratio'() {
    // Deterministic (seeded traces, no timing); HIT_RATIO_REQUESTS sets the trace length.
    const length = Number(process.env.HIT_RATIO_REQUESTS ?? (quick ? 1_000_000 : 10_000_000));
    const results = hitRatios(length);
    return `### (j) hit ratio, ${(length / 1e6).toLocaleString('en')}M requests per trace (a get, and a set after each miss), fixed seeds\n\n${hitRatioTables(results)}\n\n${hitRatioVerdicts(results).join('\n')}`;
  },
  redis: () => redisTable(method),
  'redis-cluster': () => redisClusterTable(method),
  multilevel: () => multilevelTable(method),
  'multilevel-l2': () => multilevelL2Table(method),
  'multilevel-miss': () => multilevelMissTable(isolated),
};

const chosen = process.argv.slice(2).filter((arg) => arg !== '--');
const names = chosen.length > 0 ? chosen : Object.keys(tables);
console.log(
  `## @cache benchmarks\n\n${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${process.platform}/${process.arch}; ${PEERS.map((name) => `${name} ${version(name)}`).join(', ')}${quick ? ' (BENCH_QUICK: not for results)' : ''}\n\nmethod: every contender is built in its own processes (3 each for (a), (b), (d) and (i)); ${method.warmupMs} ms warm-up, then ${method.rounds} rounds of ${method.runMs} ms per contender in rotating order (the others wait); median ops/s, and each ratio the median of the rounds' ratios.\n`,
);
for (const name of names) {
  const run = tables[name];
  if (run === undefined)
    throw new Error(`unknown table "${name}"; known: ${Object.keys(tables).join(', ')}`);
  console.log(`${await run()}\n`);
}
