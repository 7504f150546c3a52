import fc from 'fast-check';
import { vi } from 'vitest';
import {
  checkBoundedWaiting,
  checkHonestStaleness,
  checkNoStaleRead,
  checkSingleFlight,
  expectNone,
  type Violation,
} from './checker.js';
import {
  type Config,
  configArb,
  type History,
  type Op,
  opArb,
  refreshArb,
  runModel,
  useModelClock,
  WEIGHTS,
  type Weights,
} from './harness.js';

// The properties, one per promise, apart from the test file so that a longer exploration can
// run them too.

const HARD = 1_500;

const NONE: Partial<Weights> = Object.fromEntries(Object.keys(WEIGHTS).map((k) => [k, 0]));

export function property(
  check: (h: History) => Violation[],
  programs: fc.Arbitrary<Op[]>,
  configs: fc.Arbitrary<Config> = configArb,
  finalAdvance?: number,
) {
  return fc.asyncProperty(fc.scheduler(), configs, programs, async (s, config, program) => {
    useModelClock();
    try {
      const h = await runModel(
        s,
        program,
        config,
        finalAdvance === undefined ? {} : { finalAdvance },
      );
      expectNone(check(h), h);
    } finally {
      vi.useRealTimers();
    }
  });
}

/** Programs of the main model: every operation, async loaders that return or throw, clock moves. */
export const programs = fc.array(opArb(), { minLength: 1, maxLength: 20 });

/** The same with more clock moves and failing loaders: where stale values are served. */
export const timedPrograms = fc.array(opArb({ advance: 5, throw: 3 }), {
  minLength: 1,
  maxLength: 20,
});

/** Short programs of reads, writes, loads and clock moves: expiry, grace and backoff. */
export const stalePrograms = fc.array(
  opArb({
    advance: 6,
    throw: 3,
    delete: 1,
    getMany: 0,
    setMany: 0,
    deleteMany: 0,
    deletePattern: 0,
    invalidateTags: 0,
    relay: 0,
    clear: 0,
  }),
  { minLength: 1, maxLength: 12 },
);

/** Short programs heavy in tag invalidations and whole-cache clears, without clock moves. */
export const taggedPrograms = fc.array(
  opArb({
    invalidateTags: 4,
    clear: 3,
    relay: 2,
    writeThrough: 1,
    throw: 1,
    advance: 0,
    deletePattern: 0,
    deleteMany: 0,
  }),
  { minLength: 1, maxLength: 12 },
);

/** Configurations without a hard timeout: every call must settle by the scheduler alone. */
export const untimedConfigs = fc.record({
  grace: fc.constantFrom<(number | false)[]>(false, 2_000),
  hard: fc.constant(undefined),
  refresh: refreshArb,
  syncReads: fc.boolean(),
  storeExpire: fc.boolean(),
});

/** Programs around one key whose loaders may never settle, under a hard timeout. */
export const hungPrograms = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: opArb({ ...NONE, getOrSet: 1, throw: 1, hang: 1 }),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Op[]>(
        { kind: 'advance', ms: 400 },
        { kind: 'advance', ms: 1_100 },
        { kind: 'get', key: 'u:1' },
        { kind: 'delete', key: 'u:1' },
      ),
    },
  ),
  { minLength: 1, maxLength: 12 },
);

export const hungConfigs = fc.record({
  grace: fc.constantFrom<(number | false)[]>(false, 2_000),
  hard: fc.constant(HARD),
  refresh: refreshArb,
  syncReads: fc.boolean(),
});

export const properties = {
  /** C1/C2: no read returns a value older than a write or invalidation completed before it began. */
  noStaleRead: () =>
    property(
      checkNoStaleRead,
      fc.oneof(
        { weight: 1, arbitrary: programs },
        { weight: 1, arbitrary: timedPrograms },
        { weight: 3, arbitrary: taggedPrograms },
      ),
    ),
  /** C3: one loader call per key at a time, unless the running one was voided. */
  singleFlight: () => property(checkSingleFlight, programs),
  /** C4: every call settles once the scheduler has run everything. */
  boundedWaiting: () => property(checkBoundedWaiting, programs, untimedConfigs),
  /** C4: a loader that never settles does not wedge its key past the hard timeout. */
  hungLoader: () => property(checkBoundedWaiting, hungPrograms, hungConfigs, HARD + 1),
  /** C5: a stale value is served only within grace, and reported as stale. */
  honestStaleness: () => property(checkHonestStaleness, fc.oneof(timedPrograms, stalePrograms)),
};
