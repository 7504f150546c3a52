// (j) Hit ratios: each contender replays the same seeded traces (a get, and a set after each
// miss), beside two limits: Belady's MIN and, for the Zipf traces, the best online policy.
import type { CacheEntry } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { SieveCache } from '@neophi/sieve-cache';
import { LRUCache } from 'lru-cache';
import { beladyHitRatio } from './belady.js';
import { table } from './harness.js';
import { loopTrace, type Trace, zipfTrace } from './traces.js';

/** Keys of the Zipf traces. */
export const KEYS = 1_000_000;
/** Capacities, as shares of {@link KEYS}. */
export const SHARES = [0.01, 0.05, 0.1];
const SEED = 20_261_130;

/** The row names the targets refer to. */
export const OURS_LRU = "@cache/memory policy: 'lru'";
export const OURS_TINYLFU = "@cache/memory policy: 'tinylfu'";
export const LRU_CACHE = 'lru-cache';
export const SIEVE = '@neophi/sieve-cache (SIEVE)';

interface Simulated {
  get: (key: string) => unknown;
  set: (key: string, entry: CacheEntry) => unknown;
}

const contenders: Record<string, (capacity: number) => Simulated> = {
  [OURS_LRU]: (capacity) => memoryStore({ maxEntries: capacity }),
  [OURS_TINYLFU]: (capacity) => memoryStore({ maxEntries: capacity, policy: 'tinylfu' }),
  [LRU_CACHE]: (capacity) => new LRUCache<string, CacheEntry>({ max: capacity }),
  [SIEVE]: (capacity) => new SieveCache<string, CacheEntry>(capacity),
};

/** Contenders of table (j), in row order. */
export const hitRatioNames = Object.keys(contenders);

/** The traces of table (j), `length` requests each (the loop's is its own length). */
export function traces(length: number): Trace[] {
  return [
    zipfTrace(KEYS, 0.8, length, SEED),
    zipfTrace(KEYS, 1.0, length, SEED + 1),
    zipfTrace(KEYS, 0.8, length, SEED + 2, 0.1),
    zipfTrace(KEYS, 1.0, length, SEED + 3, 0.1),
    loopTrace(KEYS / 5, length),
  ];
}

/** One cell of table (j). */
export interface HitRatio {
  trace: string;
  capacity: number;
  name: string;
  hitRatio: number;
  /** Belady's MIN on the same trace and capacity. */
  belady: number;
  /** The best online policy, for traces of independent draws. */
  online?: number;
}

/** Replays `trace` on a fresh contender of `capacity` entries; returns its hit ratio. */
export function replay(name: string, trace: Trace, capacity: number, keys: string[]): number {
  const cache = contenders[name]!(capacity);
  const entry: CacheEntry = { value: 1, expiresAt: Date.now() + 365 * 86_400_000 };
  const requests = trace.requests;
  let hits = 0;
  for (let i = 0; i < requests.length; i++) {
    const key = keys[requests[i]!]!;
    if (cache.get(key) === undefined) cache.set(key, entry);
    else hits++;
  }
  return hits / requests.length;
}

/** Every cell of table (j): each trace at each capacity, every contender and both limits. */
export function hitRatios(length: number, log = (_line: string) => {}): HitRatio[] {
  const results: HitRatio[] = [];
  let keys: string[] = [];
  for (const trace of traces(length)) {
    for (let id = keys.length; id < trace.keySpace; id++) keys.push(`key:${id}`);
    for (const share of SHARES) {
      const capacity = Math.round(KEYS * share);
      const belady = beladyHitRatio(trace.requests, trace.keySpace, capacity);
      const online = trace.onlineLimit?.(capacity);
      for (const name of hitRatioNames) {
        const hitRatio = replay(name, trace, capacity, keys);
        results.push({ trace: trace.name, capacity, name, hitRatio, belady, online });
        log(`${trace.name} ${capacity} ${name}: ${(hitRatio * 100).toFixed(1)}%`);
      }
    }
  }
  keys = [];
  return results;
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

/** Table (j) as markdown: one table per trace, a row per contender, a column per capacity. */
export function hitRatioTables(results: HitRatio[]): string {
  const traceNames = [...new Set(results.map((result) => result.trace))];
  const capacities = [...new Set(results.map((result) => result.capacity))];
  return traceNames
    .map((trace) => {
      const of = (name: string, capacity: number) =>
        results.find((r) => r.trace === trace && r.name === name && r.capacity === capacity)!;
      const limits = [
        [
          "Belady's MIN (limit)",
          ...capacities.map((capacity) => percent(of(OURS_LRU, capacity).belady)),
        ],
      ];
      if (of(OURS_LRU, capacities[0]!).online !== undefined) {
        limits.push([
          'online limit: the most probable keys held',
          ...capacities.map((capacity) => percent(of(OURS_LRU, capacity).online!)),
        ]);
      }
      const rows = hitRatioNames.map((name) => [
        name,
        ...capacities.map((capacity) => {
          const cell = of(name, capacity);
          const online =
            cell.online === undefined ? '' : `, ${percent(cell.hitRatio / cell.online)} of online`;
          return `${percent(cell.hitRatio)} (${percent(cell.hitRatio / cell.belady)} of MIN${online})`;
        }),
      ]);
      const header = ['', ...capacities.map((c) => `${c / 1000}k (${(c / KEYS) * 100}%)`)];
      return `#### ${trace}\n\n${table(header, [...limits, ...rows])}`;
    })
    .join('\n\n');
}

/** The targets of PERFORMANCE.md, each with its measured value, met or MISSED. */
export function hitRatioVerdicts(results: HitRatio[]): string[] {
  const cell = (trace: string, name: string, capacity: number) =>
    results.find((r) => r.trace === trace && r.name === name && r.capacity === capacity)!;
  const lines: string[] = [];
  const check = (label: string, value: string, met: boolean) =>
    lines.push(`${label}: ${value} (${met ? 'met' : 'MISSED'})`);
  for (const result of results) {
    if (result.name !== OURS_TINYLFU) continue;
    const { trace, capacity } = result;
    const at = `${trace} at ${(capacity / KEYS) * 100}%`;
    if (result.online !== undefined && capacity <= KEYS * 0.05) {
      const share = result.hitRatio / result.online;
      check(`tinylfu ≥ 95% of the online limit, ${at}`, percent(share), share >= 0.95);
    }
    const lru = cell(trace, OURS_LRU, capacity).hitRatio;
    if (trace.startsWith('Zipf 0.8') && capacity === KEYS * 0.01) {
      const gain = (result.hitRatio - lru) * 100;
      check(`tinylfu ≥ LRU + 10 points, ${at}`, `+${gain.toFixed(1)} points`, gain >= 10);
      const sieve = cell(trace, SIEVE, capacity).hitRatio;
      check(
        `tinylfu ≥ SIEVE, ${at}`,
        `${percent(result.hitRatio)} vs ${percent(sieve)}`,
        result.hitRatio >= sieve,
      );
    }
    const behind = (lru - result.hitRatio) * 100;
    check(
      `tinylfu never more than 1 point below LRU, ${at}`,
      `${behind > 0 ? '-' : '+'}${Math.abs(behind).toFixed(1)} points`,
      behind <= 1,
    );
  }
  return lines;
}
