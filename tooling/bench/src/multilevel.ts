// Tables (g) and (h): getOrSet through a memory L1 over a Redis L2 (with an invalidation bus),
// ours against bentocache, cache-manager 7 and cacheable, each contender in its own process
// (src/worker.ts) talking to one redis-server this bench starts (never 6379).
import { readFileSync } from 'node:fs';
import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { redisBus, redisStore } from '@cache/redis';
import { type RedisServer, startRedis } from '@cache-tooling/redis-server';
import KeyvRedis, { Keyv } from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { createCache as createCacheManager } from 'cache-manager';
import { Cacheable, CacheableMemory, createKeyv } from 'cacheable';
import { Redis } from 'ioredis';
import { baselineCaption, before, importBaseline, isBefore, withBefore } from './baseline.js';
import {
  asyncLoop,
  type Method,
  measureIsolated,
  type Result,
  type Run,
  rateTable,
  ratio,
  type Setup,
  uniformOrder,
} from './harness.js';
import { mgetPerTick } from './redis.js';
import { listenerCost, listenFor, SUBSCRIBED, WITH_OTEL } from './subscribers.js';

/** (g): hot keys, every one in every L1. */
const HOT_KEYS = 10_000;
/** (g): L1 capacity where the L1 is bounded (ours, bentocache): room for every hot key. */
const HOT_CAPACITY = 100_000;
/** (h): keys in Redis, walked in a cycle; more than one batch, so no key repeats within one. */
const COLD_KEYS = 50_000;
/** (h): L1 capacity, far below the cycle, so an LRU L1 never holds the next key. */
const COLD_CAPACITY = 1_000;
/** (h): concurrent callers, each awaiting one getOrSet before the next (as in table (e)). */
const CALLERS = 200;
const TTL = 3_600_000;
const ENV_PORT = 'BENCH_MULTILEVEL_REDIS_PORT';

/** The row names. */
export const LIMIT = 'async function + Map.get (limit)';
export const MGET_LIMIT = 'ioredis MGET per tick + JSON.parse (limit)';
export const OURS = '@cache/core createCache + multilevel (memory + redis + bus)';
/** Ours on the code of the BENCH_BASELINE checkout (a row only when it is set). */
export const OURS_BEFORE = before(OURS);
/** Ours with a no-op subscriber on every diagnostics channel. */
export const OURS_SUBSCRIBED = OURS + SUBSCRIBED;
/** Ours with @cache/otel recording metrics. */
export const OURS_OTEL = OURS + WITH_OTEL;
export const BENTO = 'bentocache (memory L1 + redis L2 + redis bus)';
export const CACHE_MANAGER = 'cache-manager 7 wrap (keyv memory + @keyv/redis)';
export const CACHEABLE = 'cacheable getOrSet (primary + @keyv/redis)';
export const PEERS = [BENTO, CACHE_MANAGER, CACHEABLE];

export type Value = ReturnType<typeof jsonValue>;

/** A JSON document of about 100 bytes (as in table (e)). */
export function jsonValue(i: number) {
  return {
    id: i,
    name: `User number ${i}`,
    email: `user${i}@example.com`,
    roles: ['reader', 'writer'],
    active: i % 2 === 0,
  };
}

export interface Config {
  host: string;
  port: number;
  url: string;
  /** Redis key prefix (and bus channel) of this table and contender. */
  prefix: string;
  /** L1 capacity; `undefined`: the library's default in-memory store (unbounded Map for keyv). */
  capacity: number | undefined;
}

export interface Built {
  op: (key: string) => Promise<unknown>;
  /** Reads answered by the L1, where the library counts them. */
  l1Hits?: () => number;
  /** The Redis key under which the contender stores `key` in its L2. */
  l2Key: (key: string) => string;
  /** Ours: reads `key` back from the L2 through a store of the same code. */
  readL2?: (key: string) => Promise<unknown>;
}

/** What our rows use of the @cache packages: the current code's, or the baseline's. */
interface Ours {
  createCache: typeof createCache;
  memoryStore: typeof memoryStore;
  multilevel: typeof multilevel;
  redisStore: typeof redisStore;
  redisBus: typeof redisBus;
}

const current: Ours = { createCache, memoryStore, multilevel, redisStore, redisBus };

async function baseline(): Promise<Ours> {
  const [core, memory, tiers, redis] = await Promise.all([
    importBaseline<typeof import('@cache/core')>('core'),
    importBaseline<typeof import('@cache/memory')>('memory'),
    importBaseline<typeof import('@cache/multilevel')>('multilevel'),
    importBaseline<typeof import('@cache/redis')>('redis'),
  ]);
  return {
    createCache: core.createCache,
    memoryStore: memory.memoryStore,
    multilevel: tiers.multilevel,
    redisStore: redis.redisStore,
    redisBus: redis.redisBus,
  };
}

type Load = (key: string) => Value | Promise<Value>;

function ours(lib: Ours, load: Load, { url, prefix, capacity }: Config): Built {
  const l2 = lib.redisStore({ url, prefix });
  const store = lib.multilevel({
    tiers: [lib.memoryStore({ maxEntries: capacity ?? HOT_CAPACITY }), l2],
    bus: lib.redisBus({ client: l2.client, channel: `${prefix}invalidate` }),
  });
  const cache = lib.createCache({ store, ttl: TTL });
  let reader: ReturnType<typeof redisStore> | undefined;
  return {
    op: (key) => cache.getOrSet(key, () => load(key)),
    l1Hits: () => store.stats().hits[0]!,
    l2Key: (key) => `${prefix}${key}`,
    readL2: async (key) => {
      reader ??= lib.redisStore({ url, prefix });
      return (await reader.get(key))?.value;
    },
  };
}

/** Builds contender `name` (ours on the current or the baseline code, or a peer). */
export async function build(name: string, load: Load, config: Config): Promise<Built> {
  if (name === OURS) return ours(current, load, config);
  if (name === OURS_SUBSCRIBED || name === OURS_OTEL) {
    listenFor(name);
    return ours(current, load, config);
  }
  if (name === OURS_BEFORE) return ours(await baseline(), load, config);
  const builder = builders[name];
  if (builder === undefined) throw new Error(`no contender "${name}"`);
  return builder(load, config);
}

// Each peer's getOrSet over a memory L1 and a Redis L2 (plus a bus where it has one).
const builders: Record<string, (load: Load, config: Config) => Built> = {
  [BENTO]: (load, { host, port, prefix, capacity }) => {
    const bento = new BentoCache({
      // The store's name names its bus channel: one of its own per prefix, as ours.
      default: prefix.slice(0, -1),
      prefix: prefix.slice(0, -1),
      stores: {
        [prefix.slice(0, -1)]: bentostore()
          .useL1Layer(memoryDriver({ maxItems: capacity ?? HOT_CAPACITY }))
          .useL2Layer(redisDriver({ connection: { host, port } }))
          .useBus(redisBusDriver({ connection: { host, port } })),
      },
    });
    return {
      op: (key) => bento.getOrSet({ key, factory: () => load(key), ttl: TTL }),
      l2Key: (key) => `${prefix}${key}`,
    };
  },
  [CACHE_MANAGER]: (load, { url, prefix, capacity }) => {
    // Its README's multi-store setup; the default `new Keyv()` (a Map) where nothing is evicted.
    const memory =
      capacity === undefined
        ? new Keyv()
        : new Keyv({ store: new CacheableMemory({ lruSize: capacity }) });
    const namespace = prefix.slice(0, -1);
    const manager = createCacheManager({
      stores: [memory, new Keyv({ store: new KeyvRedis(url), namespace })],
      ttl: TTL,
    });
    return {
      op: (key) => manager.wrap(key, () => load(key)),
      l2Key: (key) => `${namespace}::${namespace}:${key}`,
    };
  },
  [CACHEABLE]: (load, { url, prefix, capacity }) => {
    const namespace = prefix.slice(0, -1);
    const secondary = new Keyv({ store: new KeyvRedis(url), namespace });
    const cacheable = new Cacheable(
      capacity === undefined
        ? { secondary, ttl: TTL }
        : { primary: createKeyv({ lruSize: capacity }), secondary, ttl: TTL },
    );
    return {
      op: (key) => cacheable.getOrSet(key, async () => load(key)),
      l2Key: (key) => `${namespace}::${namespace}:${key}`,
    };
  },
};

/** Contenders of table (g), in row order ("(before)" only with BENCH_BASELINE). */
export const hotNames = withBefore([LIMIT, OURS, OURS_SUBSCRIBED, OURS_OTEL, ...PEERS], [OURS]);
/** Contenders of table (h), in row order. */
export const coldNames = [MGET_LIMIT, OURS, ...PEERS];

export function config(table: string, name: string, capacity: number | undefined): Config {
  const port = Number(process.env[ENV_PORT]);
  if (!(port > 0)) throw new Error(`${ENV_PORT} is not set: run this through main.ts`);
  const tag: Record<string, string> = {
    [OURS]: 'ours',
    [OURS_BEFORE]: 'ours-before',
    [OURS_SUBSCRIBED]: 'ours-subscribed',
    [OURS_OTEL]: 'ours-otel',
    [BENTO]: 'bento',
    [CACHE_MANAGER]: 'cm',
    [CACHEABLE]: 'cacheable',
  };
  const prefix = `${table}:${tag[name] ?? 'raw'}:`;
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, prefix, capacity };
}

/**
 * The loader every contender calls: it answers from `source` during setup; once armed, a call
 * means a getOrSet missed both tiers, which {@link guarded} reports as an error.
 */
function loaderOf(source: Map<string, Value>) {
  const state = { armed: false, misses: 0 };
  const load = (key: string) => {
    if (state.armed) state.misses++;
    return source.get(key)!;
  };
  return { state, load };
}

/** Fails the run when a timed batch reached the loader or (where counted) was answered by L1. */
function guarded(
  name: string,
  run: Run,
  state: { misses: number },
  l1Hits: (() => number) | undefined,
  l1HitsAllowed: boolean,
): Run {
  const before = l1Hits?.() ?? 0;
  return async (n, start) => {
    const sink = await run(n, start);
    if (state.misses > 0) throw new Error(`${name}: ${state.misses} calls reached the loader`);
    if (!l1HitsAllowed && l1Hits !== undefined && l1Hits() !== before) {
      throw new Error(`${name}: ${l1Hits() - before} calls were answered by L1`);
    }
    return sink;
  };
}

function check(name: string, key: string, answer: unknown, id: number): void {
  if ((answer as Value | undefined)?.id !== id) throw new Error(`${name} answered ${key} wrongly`);
}

/**
 * (g) Every call an L1 hit: 10k hot keys, uniform, awaited one after another. Each contender
 * loads every key through its own getOrSet (so both tiers hold it), reads each back (checked),
 * then the loader is armed: a timed call that reaches it fails the run.
 */
export const hot: Record<string, Setup> = Object.fromEntries(
  hotNames.map((name): [string, Setup] => [
    name,
    async () => {
      const keys = Array.from({ length: HOT_KEYS }, (_, i) => `user:${i}`);
      const source = new Map(keys.map((key, i) => [key, jsonValue(i)]));
      const { state, load } = loaderOf(source);
      const built =
        name === LIMIT
          ? { op: async (key: string) => source.get(key) }
          : await build(name, load, config('ml-hot', name, undefined));
      for (const [i, key] of keys.entries()) check(name, key, await built.op(key), i);
      for (const [i, key] of keys.entries()) check(name, key, await built.op(key), i);
      state.armed = true;
      return guarded(
        name,
        asyncLoop(built.op, keys, uniformOrder(HOT_KEYS)),
        state,
        undefined,
        true,
      );
    },
  ]),
);

/**
 * {@link CALLERS} callers each await one call after another, walking the keys in a cycle from a
 * cursor of their own (not the harness' position, which is approximate): caller `c` of a batch
 * takes the `c`-th slice of the next `n` positions, so within a batch no key repeats, and a key
 * comes back only after the other {@link COLD_KEYS} − 1 keys were read.
 */
function cycleLoop(op: (key: string) => Promise<unknown>, keys: string[], checked?: string): Run {
  let cursor = 0;
  return (n) => {
    const perCaller = Math.ceil(n / CALLERS);
    if (perCaller * CALLERS > keys.length) throw new Error('batch larger than the key cycle');
    const from = cursor;
    cursor = (cursor + perCaller * CALLERS) % keys.length;
    const callers: Promise<void>[] = [];
    for (let c = 0; c < CALLERS; c++) {
      callers.push(
        (async () => {
          const first = from + c * perCaller;
          for (let i = 0; i < perCaller; i++) {
            const index = (first + i) % keys.length;
            const answer = await op(keys[index]!);
            if (checked !== undefined) check(checked, keys[index]!, answer, index);
          }
        })(),
      );
    }
    return Promise.all(callers);
  };
}

/**
 * (h) Every call an L1 miss and an L2 hit: {@link COLD_KEYS} keys, read in a cycle by
 * {@link CALLERS} concurrent callers, through an L1 bounded to {@link COLD_CAPACITY} entries
 * (LRU in every contender). Each contender first loads every key through its own getOrSet (so
 * Redis holds them all); its L1 keeps only the last 1000, and a key is read again only after
 * 49,999 others were read and copied into L1, so it has always been evicted by then. One full
 * cycle is read and checked, then the loader is armed (a timed call reaching it fails the run);
 * where the library counts L1 hits (ours), a timed L1 hit fails the run too.
 */
export const cold: Record<string, Setup> = Object.fromEntries(
  coldNames.map((name): [string, Setup] => [
    name,
    async () => {
      const keys = Array.from({ length: COLD_KEYS }, (_, i) => `user:${i}`);
      const source = new Map(keys.map((key, i) => [key, jsonValue(i)]));
      const { state, load } = loaderOf(source);
      const where = config('ml-cold', name, COLD_CAPACITY);
      let built: Pick<Built, 'op' | 'l1Hits'>;
      if (name === MGET_LIMIT) {
        const client = new Redis(where.port);
        const raw = keys.map((key, i) => [`${where.prefix}${key}`, JSON.stringify(jsonValue(i))]);
        for (let i = 0; i < raw.length; i += 1000) await client.mset(raw.slice(i, i + 1000).flat());
        const mget = mgetPerTick(client);
        built = { op: (key) => mget(`${where.prefix}${key}`) };
      } else {
        built = await build(name, load, where);
        await cycleLoop(built.op, keys, name)(COLD_KEYS, 0);
      }
      state.armed = true;
      const l1Before = built.l1Hits?.() ?? 0;
      await cycleLoop(built.op, keys, name)(COLD_KEYS, 0);
      if (state.misses > 0) throw new Error(`${name}: ${state.misses} checked reads missed L2`);
      if (built.l1Hits !== undefined && built.l1Hits() !== l1Before) {
        throw new Error(`${name}: ${built.l1Hits() - l1Before} checked reads were L1 hits`);
      }
      return guarded(name, cycleLoop(built.op, keys), state, built.l1Hits, false);
    },
  ]),
);

// One redis-server for the run: the tables of this file share it; it stops once none needs it.
let server: Promise<RedisServer> | undefined;
let users = 0;

export async function acquireRedis(): Promise<RedisServer> {
  users++;
  server ??= startRedis();
  const started = await server;
  process.env[ENV_PORT] = String(started.port);
  return started;
}

export function releaseRedis(): void {
  users--;
  // Deferred, so that the next table of this file, started right after, keeps the server.
  setImmediate(() => {
    if (users > 0 || server === undefined) return;
    const stopping = server;
    server = undefined;
    void stopping.then((started) => started.stop());
  });
}

export async function redisVersion(port: number): Promise<string> {
  const client = new Redis(port);
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? '?';
  } finally {
    client.disconnect();
  }
}

function versionOf(name: string): string {
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export function versions(): string {
  return ['bentocache', 'cache-manager', 'cacheable', 'keyv', '@keyv/redis', 'ioredis']
    .map((name) => `${name} ${versionOf(name)}`)
    .join(', ');
}

function ratios(results: Result[], targets: Record<string, number>, ours = OURS): string {
  const label = isBefore(ours) ? 'before' : 'ours';
  return PEERS.map((peer) => {
    const value = ratio(results, ours, peer);
    const target = targets[peer];
    const verdict =
      target === undefined ? '' : ` (target ≥ ${target}: ${value >= target ? 'met' : 'MISSED'})`;
    return `${label} / ${peer} = ${value.toFixed(1)}${verdict}`;
  }).join('; ');
}

/** Redis runs are noisier: at least 9 rounds, batches of at most 20k (as table (e)). */
function coldMethod(method: Method): Method {
  return { ...method, rounds: Math.max(method.rounds, 9), batch: Math.min(method.batch, 20_000) };
}

/** (g) as a markdown section, with the targets of PERFORMANCE.md. */
export async function multilevelTable(method: Method): Promise<string> {
  const redis = await acquireRedis();
  try {
    const results = await measureIsolated('multilevel:hot', hotNames, method);
    const verdicts = (ours: string) => {
      const share = ratio(results, ours, LIMIT);
      return `${ratios(results, { [BENTO]: 20 }, ours)}; ${isBefore(ours) ? 'before' : 'ours'} / async limit = ${(share * 100).toFixed(0)}% (target ≥ 40%: ${share >= 0.4 ? 'met' : 'MISSED'})`;
    };
    const lines = [
      `### (g) getOrSet where every call is an L1 hit, memory L1 + Redis L2 (+ bus), ${HOT_KEYS / 1000}k hot keys, ~100 B JSON values, awaited in sequence`,
      `redis-server ${await redisVersion(redis.port)} on loopback (started by the bench); ${versions()}; median of ${method.rounds} rounds of ${method.runMs} ms`,
      baselineCaption(),
      rateTable(results, LIMIT),
      verdicts(OURS),
    ];
    if (hotNames.includes(OURS_BEFORE)) {
      lines.push(
        verdicts(OURS_BEFORE),
        `ours / before = ${ratio(results, OURS, OURS_BEFORE).toFixed(2)} (paired per round)`,
      );
    }
    lines.push(listenerCost(results, OURS, OURS_SUBSCRIBED, OURS_OTEL));
    return lines.filter((line) => line !== '').join('\n\n');
  } finally {
    releaseRedis();
  }
}

/** (h) as a markdown section: the L2 hit (L1 miss) path against the same peers. */
export async function multilevelL2Table(method: Method): Promise<string> {
  const redis = await acquireRedis();
  try {
    const results = await measureIsolated('multilevel:cold', coldNames, coldMethod(method));
    return [
      `### (h) getOrSet where every call misses L1 and hits Redis, ${CALLERS} concurrent callers, ${COLD_KEYS / 1000}k keys read in a cycle through a ${COLD_CAPACITY}-entry L1, ~100 B JSON values`,
      `redis-server ${await redisVersion(redis.port)} on loopback (started by the bench); ${versions()}; median of ${coldMethod(method).rounds} rounds of ${method.runMs} ms`,
      rateTable(results, MGET_LIMIT),
      ratios(results, {}),
    ].join('\n\n');
  } finally {
    releaseRedis();
  }
}
