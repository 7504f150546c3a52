import { expect, test } from 'vitest';
import { summarize, summaryLines } from '../src/summary.js';
import { runTour } from '../src/tour.js';

test('the demo tour hits the database only where a pattern needs it', async () => {
  const { steps, cache } = await runTour(5);
  const queries = Object.fromEntries(steps.map((s) => [`${s.pattern}: ${s.what}`, s.dbQueries]));
  expect(queries).toEqual({
    'cache-aside: get user 1 (cold)': 1,
    'cache-aside: get user 1 (warm)': 0,
    'cache-aside: update user 1, delete its key': 1,
    'cache-aside: get user 1 (reloaded)': 1,
    'read-through: get user 2 (cold)': 1,
    'read-through: get user 2 (warm)': 0,
    'getOrSet: 1,000 concurrent gets of a cold key': 1,
    'getOrSet: 1,000 more (all hits)': 0,
    'cached(): countOrders(4, open) cold': 1,
    'cached(): countOrders(4, open) warm': 0,
    'cached(): countOrders(4, shipped) cold': 1,
    'write-through: rename user 5': 1,
    'write-through: get user 5 (hit)': 0,
    'grace: get user 6 while the database is down': 1,
  });
  expect(cache.stats().staleHits).toBe(1);
});

test('the summary compares single reads, and tells the callers that waited for a load from the misses that queried', async () => {
  const { steps, cache, db } = await runTour(5);
  const summary = summarize(steps);
  expect(summary.waited).toBe(999);
  expect(summary.databaseRead).toBeGreaterThanOrEqual(5);
  // Measured from the steps that read the cache (NaN if none did). How much faster they are is
  // printed, not asserted: a timing compared in a test fails on a busy machine (it did in CI).
  expect(summary.cacheRead).toBeGreaterThanOrEqual(0);
  expect(summary.concurrentHit).toBeGreaterThanOrEqual(0);
  const [lookups, queries] = summaryLines(summary, cache.stats(), db.queries);
  expect(lookups).toBe(
    'cache lookups: 1004 hits, 1006 misses (999 of them callers that waited for a load already running, no query of their own), 1 served stale under grace',
  );
  expect(queries).toBe('loader calls 5, database queries 10');
  const statsLine = summaryLines(summary, cache.stats(), db.queries).at(-1);
  expect(statsLine).toMatch(
    /^cache\.stats\(\): hit ratio 50\.0%; loads p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms \(of 5\)$/,
  );
});
