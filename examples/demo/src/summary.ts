import type { CacheStats } from '@cache/core';
import type { Step } from './tour.js';

/** What the demo measured, per read rather than per step. */
export interface Summary {
  /** Median time of a single read that queried the database, in ms. */
  databaseRead: number;
  /** Median time of a single read answered from the cache, in ms. */
  cacheRead: number;
  /** Time per read when many concurrent reads all hit, in ms. */
  concurrentHit: number;
  /** Cache misses that made no query: callers that waited for a load another caller started. */
  waited: number;
}

/** Summarizes the tour's steps; single reads and batches of reads are kept apart. */
export function summarize(steps: Step[]): Summary {
  const single = steps.filter((s) => s.reads === 1);
  const batchHits = steps.filter((s) => s.reads > 1 && s.dbQueries === 0 && s.misses === 0);
  return {
    databaseRead: median(single.filter((s) => s.dbQueries > 0).map((s) => s.ms)),
    cacheRead: median(single.filter((s) => s.dbQueries === 0).map((s) => s.ms)),
    concurrentHit: median(batchHits.map((s) => s.ms / s.reads)),
    waited: steps.reduce((sum, s) => sum + Math.max(0, s.misses - s.dbQueries), 0),
  };
}

/** The summary's lines, as the demo prints them. */
export function summaryLines(summary: Summary, stats: CacheStats, dbQueries: number): string[] {
  const { databaseRead, cacheRead, concurrentHit, waited } = summary;
  return [
    `cache lookups: ${stats.hits} hits, ${stats.misses} misses (${waited} of them callers that waited for a load already running, no query of their own), ${stats.staleHits} served stale under grace`,
    `loader calls ${stats.loads}, database queries ${dbQueries}`,
    `one read from the database: ${databaseRead.toFixed(2)} ms; one read from the cache: ${cacheRead.toFixed(3)} ms (${Math.round(databaseRead / cacheRead)}x faster, medians)`,
    `concurrent reads of a cached key (1,000 at once): ${(concurrentHit * 1000).toFixed(1)} µs per read`,
    statsLine(stats),
  ];
}

/** `cache.stats()`'s own figures: hit ratio, load latency percentiles, and each tier's share. */
export function statsLine(stats: CacheStats): string {
  const { hitRatio, loadLatency: load, tiers } = stats;
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const perTier = tiers.map((tier, i) => `L${i + 1} ${tier.store} ${pct(tier.hitRatio)}`);
  return [
    `cache.stats(): hit ratio ${pct(hitRatio)}`,
    `loads p50 ${ms(load.p50)}, p90 ${ms(load.p90)}, p99 ${ms(load.p99)} (of ${load.count})`,
    ...(perTier.length > 0 ? [`per tier ${perTier.join(', ')}`] : []),
  ].join('; ');
}

function pct(ratio: number): string {
  return Number.isNaN(ratio) ? 'n/a' : `${(ratio * 100).toFixed(1)}%`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
