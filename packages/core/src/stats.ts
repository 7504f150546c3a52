import type { Engine } from './engine.js';
import type { CacheStats, TierStats } from './events.js';
import type { CacheStore } from './types.js';

// The part of a tiered store (`@cache/multilevel`) its figures are read from.
interface Tiered {
  tiers: readonly CacheStore[];
  stats(): { hits: number[]; misses: number; tierErrors: number[] };
}

/** The snapshot `cache.stats()` returns. */
export function snapshot(engine: Engine): CacheStats {
  const { counters, loadTimes } = engine.telemetry;
  const lookups = counters.hits + counters.misses;
  return {
    ...counters,
    inflight: engine.flights.loading,
    pendingWrites: engine.pendingWrites,
    knownTags: engine.tagRecords.size,
    hitRatio: lookups === 0 ? Number.NaN : counters.hits / lookups,
    loadLatency: loadTimes.percentiles(),
    tiers: tierStats(engine.gateway.store),
  };
}

function tierStats(store: CacheStore): TierStats[] {
  const tiered = store as Partial<Tiered>;
  if (!Array.isArray(tiered.tiers) || typeof tiered.stats !== 'function') return [];
  const { hits, misses, tierErrors } = tiered.stats();
  const reads = hits.reduce((sum, n) => sum + n, misses);
  return tiered.tiers.map((tier, i) => ({
    store: tier.name,
    hits: hits[i] ?? 0,
    hitRatio: reads === 0 ? Number.NaN : (hits[i] ?? 0) / reads,
    errors: tierErrors[i] ?? 0,
  }));
}
