// Model-based tests of CONSISTENCY.md's promises C1–C5. Random programs of cache operations run
// on a createCache over an async store; every store answer, loader and persist function
// completes when fast-check's scheduler picks it, and the clock moves only by `advance`
// operations, so orderings, expiry, grace and hard timeouts are all explored. Each history
// (call and settle ticks, arguments, results, unique value tokens) is checked by
// test/model/checker.ts, one check per promise. A failure prints the shrunk program, the
// scheduler's order and the history as a story.
//
// CI runs each property for its RUNS below (about 15 s for the file once all pass). A longer
// run, or one seed:
//   MODEL_RUNS=20000 pnpm --filter @cache/core exec vitest run test/model
//   MODEL_SEED=42 MODEL_RUNS=2000 pnpm --filter @cache/core exec vitest run test/model
import fc from 'fast-check';
import { afterEach, describe, test, vi } from 'vitest';
import { properties } from './model/properties.js';

// Chosen so that each defect class each property knows of is found in every one of several seeds.
const RUNS = {
  noStaleRead: 12_000,
  singleFlight: 1_500,
  boundedWaiting: 1_500,
  hungLoader: 1_500,
  honestStaleness: 8_000,
};
// Generous, for a loaded CI machine: a run that passes takes its full RUNS.
const TIMEOUT = 120_000;
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);

const params = (name: keyof typeof RUNS): fc.Parameters<unknown> => ({
  numRuns: process.env.MODEL_RUNS === undefined ? RUNS[name] : Number(process.env.MODEL_RUNS),
  ...(SEED === undefined ? {} : { seed: SEED }),
});

afterEach(() => {
  vi.useRealTimers();
});

describe('consistency model (CONSISTENCY.md)', () => {
  // Still failing after c9b7eb7: a read that fetched a tagged entry before a clear() checks its
  // tags after the clear removed the tag records, and serves the invalidated entry.
  test(
    'C1/C2: no read returns a value older than a write or invalidation that completed before it started',
    async () => {
      await fc.assert(properties.noStaleRead(), params('noStaleRead'));
    },
    TIMEOUT,
  );

  test(
    'C3: one loader call per key at a time, unless the running one was voided',
    async () => {
      await fc.assert(properties.singleFlight(), params('singleFlight'));
    },
    TIMEOUT,
  );

  test(
    'C4: every call settles once the scheduler has run everything',
    async () => {
      await fc.assert(properties.boundedWaiting(), params('boundedWaiting'));
    },
    TIMEOUT,
  );

  test(
    'C4: a loader that never settles does not wedge its key past the hard timeout',
    async () => {
      await fc.assert(properties.hungLoader(), params('hungLoader'));
    },
    TIMEOUT,
  );

  // Still failing after c9b7eb7: a hard timeout or loader error that fires after the entry's
  // grace ended serves it stale anyway, and a miss stays joinable until its store write is
  // answered, so a caller arriving after the TTL gets the loaded value as fresh.
  test(
    'C5: a stale value is served only within grace, and reported as stale',
    async () => {
      await fc.assert(properties.honestStaleness(), params('honestStaleness'));
    },
    TIMEOUT,
  );
});
