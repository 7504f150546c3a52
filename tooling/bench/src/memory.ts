import type { CacheEntry } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { LRUCache } from 'lru-cache';
import { LRUCache as MnemonistLru } from 'mnemonist';
import QuickLRU from 'quick-lru';
import { lru as tinyLru } from 'tiny-lru';
import { before, importBaseline, isBefore, withBefore } from './baseline.js';
import { type Setup, syncLoop, uniformOrder } from './harness.js';

/** Entries every contender holds at most. */
export const CAPACITY = 100_000;
const HOUR = 3_600_000;

/** One library set up as an LRU of {@link CAPACITY} entries; each closure is its own call site. */
interface Lru {
  get: (key: string) => unknown;
  set: (key: string, entry: CacheEntry) => unknown;
}

/** The row names the targets refer to. */
export const MAP = 'Map.get (limit)';
export const OURS = '@cache/memory (ttl)';
export const OURS_TINYLFU = "@cache/memory (ttl) policy: 'tinylfu'";
export const MNEMONIST = 'mnemonist LRUCache';
export const LRU_CACHE = 'lru-cache';
export const LRU_CACHE_TTL = 'lru-cache with ttl';

// Every entry carries a TTL; only ours and "lru-cache with ttl" check it.
const libraries: Record<string, () => Lru> = {
  [MAP]: () => {
    const c = new Map<string, CacheEntry>();
    return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
  },
  [MNEMONIST]: () => {
    const c = new MnemonistLru<string, CacheEntry>(CAPACITY);
    return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
  },
  'quick-lru': () => {
    const c = new QuickLRU<string, CacheEntry>({ maxSize: CAPACITY });
    return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
  },
  'tiny-lru': () => {
    const c = tinyLru<CacheEntry>(CAPACITY);
    return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
  },
  [LRU_CACHE]: () => {
    const c = new LRUCache<string, CacheEntry>({ max: CAPACITY });
    return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
  },
  [LRU_CACHE_TTL]: () => {
    const c = new LRUCache<string, CacheEntry>({ max: CAPACITY, ttl: HOUR });
    return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
  },
  [OURS]: () => ours(memoryStore, 'lru'),
  [OURS_TINYLFU]: () => ours(memoryStore, 'tinylfu'),
};

function ours(store: typeof memoryStore, policy: 'lru' | 'tinylfu'): Lru {
  const c = store({ maxEntries: CAPACITY, policy });
  return { get: (key) => c.get(key), set: (key, entry) => c.set(key, entry) };
}

// A contender, or with BENCH_BASELINE ours on the baseline checkout's code ("(before)" rows).
async function library(name: string): Promise<Lru> {
  if (!isBefore(name)) return libraries[name]!();
  const baseline = await importBaseline<typeof import('@cache/memory')>('memory');
  return ours(baseline.memoryStore, name === before(OURS) ? 'lru' : 'tinylfu');
}

/** Contenders of table (a), in row order ("(before)" rows only with BENCH_BASELINE). */
export const getNames = withBefore(Object.keys(libraries), [OURS, OURS_TINYLFU]);
/** Contenders of table (b): a Map never evicts, so it has no row. */
export const setNames = getNames.filter((name) => name !== MAP);
/** Contenders of table (c). */
export const footprintNames = [MAP, MNEMONIST, LRU_CACHE, LRU_CACHE_TTL, OURS, OURS_TINYLFU];
/** How many of the {@link CAPACITY} keys table (a2) reads. */
export const HOT = 1000;

function entryFor(i: number): CacheEntry {
  return { value: { id: i, name: `item ${i}` }, expiresAt: Date.now() + HOUR };
}

function keysFor(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `key:${i}`);
}

function fill(lru: Lru, keys: string[], entries: CacheEntry[]): Lru {
  for (let i = 0; i < CAPACITY; i++) lru.set(keys[i]!, entries[i % entries.length]!);
  return lru;
}

async function filled(name: string, keys: string[], entries: CacheEntry[]): Promise<Lru> {
  return fill(await library(name), keys, entries);
}

// The contender holding CAPACITY keys, each with an entry of its own.
async function full(name: string): Promise<{ keys: string[]; lru: Lru }> {
  const keys = keysFor(CAPACITY);
  return {
    keys,
    lru: await filled(
      name,
      keys,
      keys.map((_, i) => entryFor(i)),
    ),
  };
}

/** (a) `get` of present keys, uniform over {@link CAPACITY} keys, every contender full. */
export const get: Record<string, Setup> = Object.fromEntries(
  getNames.map((name) => [
    name,
    async () => {
      const { keys, lru } = await full(name);
      return syncLoop(lru.get, keys, uniformOrder(CAPACITY));
    },
  ]),
);

/**
 * (a2) `get` of {@link HOT} keys spread over the {@link CAPACITY} held (every 100th), uniform
 * among them: a hot set that fits in the CPU's caches, so the contenders' own work shows.
 */
export const hot: Record<string, Setup> = Object.fromEntries(
  getNames.map((name) => [
    name,
    async () => {
      const { keys, lru } = await full(name);
      const spread = CAPACITY / HOT;
      return syncLoop(
        lru.get,
        keys,
        uniformOrder(HOT).map((i) => i * spread),
      );
    },
  ]),
);

/** (b) `set` of keys uniform over 2× {@link CAPACITY}, so about half the sets evict; contenders start full. */
export const set: Record<string, Setup> = Object.fromEntries(
  setNames.map((name) => [
    name,
    async () => {
      const keys = keysFor(CAPACITY * 2);
      const entry = entryFor(0);
      const lru = await filled(name, keys, [entry]);
      return syncLoop(lru.set, keys, uniformOrder(keys.length), entry);
    },
  ]),
);

/**
 * (c) Bytes per entry: the growth of heapUsed + arrayBuffers (after full GCs) when the contender
 * takes {@link CAPACITY} keys and entry objects allocated beforehand, so only its own structure
 * counts.
 */
export const footprint: Record<string, () => number> = Object.fromEntries(
  footprintNames.map((name) => [
    name,
    () => {
      const keys = keysFor(CAPACITY);
      const entries = keys.map((_, i) => entryFor(i));
      const start = heap();
      const lru = fill(libraries[name]!(), keys, entries);
      const end = heap();
      if (lru.get(keys[CAPACITY - 1]!) !== entries[CAPACITY - 1]) throw new Error(`${name} lost`);
      return (end - start) / CAPACITY;
    },
  ]),
);

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc');
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}
