import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache as createCacheManager } from 'cache-manager';
import { LRUCache } from 'lru-cache';
import { before, importBaseline, withBefore } from './baseline.js';
import { asyncLoop, type Setup, uniformOrder } from './harness.js';
import { listenFor, SUBSCRIBED, WITH_OTEL } from './subscribers.js';

const HOT_KEYS = 10_000;
const TTL = 3_600_000;

/** The row names the targets refer to. */
export const LIMIT = 'async function + Map.get (limit)';
export const OURS = '@cache/core createCache + memoryStore';
/** Ours on the code of the BENCH_BASELINE checkout (a row only when it is set). */
export const OURS_BEFORE = before(OURS);
/** Ours with a no-op subscriber on every diagnostics channel. */
export const OURS_SUBSCRIBED = OURS + SUBSCRIBED;
/** Ours with @cache/otel recording metrics. */
export const OURS_OTEL = OURS + WITH_OTEL;
/** lru-cache's getOrSet: the closest peer (memory-only, like this table). */
export const LRU_FETCH = 'lru-cache fetch()';
/** The multi-tier libraries, run memory-only here. */
export const PEERS = ['bentocache (memory)', 'cache-manager 7 wrap (memory)'];

type Value = { id: number; name: string };
type Op = (key: string) => Promise<unknown>;

function ours(create: typeof createCache, store: typeof memoryStore) {
  return (source: Map<string, Value>): Op => {
    const cache = create({ store: store({ maxEntries: 100_000 }), ttl: TTL });
    return (key) => cache.getOrSet(key, () => source.get(key));
  };
}

// Each contender's getOrSet, over the same source of values.
const contenders: Record<string, (source: Map<string, Value>) => Op | Promise<Op>> = {
  [LIMIT]: (source) => async (key) => source.get(key),
  [OURS]: ours(createCache, memoryStore),
  [OURS_SUBSCRIBED]: ours(createCache, memoryStore),
  [OURS_OTEL]: ours(createCache, memoryStore),
  [OURS_BEFORE]: async (source) => {
    const core = await importBaseline<typeof import('@cache/core')>('core');
    const memory = await importBaseline<typeof import('@cache/memory')>('memory');
    return ours(core.createCache, memory.memoryStore)(source);
  },
  [LRU_FETCH]: (source) => {
    const cache = new LRUCache<string, Value>({
      max: 100_000,
      ttl: TTL,
      fetchMethod: (key) => source.get(key),
    });
    return (key) => cache.fetch(key);
  },
  [PEERS[0]!]: (source) => {
    const bento = new BentoCache({
      default: 'memory',
      stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 100_000 })) },
    });
    return (key) => bento.getOrSet({ key, factory: () => source.get(key), ttl: TTL });
  },
  [PEERS[1]!]: (source) => {
    const manager = createCacheManager({ ttl: TTL });
    return (key) => manager.wrap(key, () => source.get(key));
  },
};

/** Contenders of table (d), in row order ("(before)" only with BENCH_BASELINE). */
export const getOrSetNames = withBefore(
  Object.keys(contenders).filter((name) => name !== OURS_BEFORE),
  [OURS],
);

/**
 * (d) `getOrSet` where every call is an L1 hit: 10k hot keys, uniform, awaited one after
 * another, every cache memory-only and warmed with all keys first (checking each answer). The
 * limit is an awaited async function returning a value from a Map; lru-cache's `fetch()` (with a
 * `fetchMethod` and a TTL) is the closest peer.
 */
export const getOrSet: Record<string, Setup> = Object.fromEntries(
  getOrSetNames.map((name) => [
    name,
    async () => {
      const keys = Array.from({ length: HOT_KEYS }, (_, i) => `user:${i}`);
      const source = new Map(keys.map((key, i) => [key, { id: i, name: `user ${i}` }]));
      listenFor(name);
      const op = await contenders[name]!(source);
      for (const key of keys) {
        const value = (await op(key)) as Value | undefined;
        if (value?.id !== source.get(key)!.id) throw new Error(`${name} answered ${key} wrongly`);
      }
      return asyncLoop(op, keys, uniformOrder(HOT_KEYS));
    },
  ]),
);
