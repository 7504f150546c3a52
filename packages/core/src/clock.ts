/** Where a cache reads the time: ms since the epoch. Pass one to `createCache({ clock })`. */
export interface Clock {
  /** The current time in ms since the epoch. */
  now(): number;
}

// Reading the system clock costs about as much as a whole cache hit, so the default clock keeps
// its last reading for RESOLUTION ms (an unref'd timer drops it) and for at most READS calls. A
// timer cannot fire while the event loop is blocked, so during a long synchronous stretch the
// reading is as old as that stretch, or READS calls: use `exactClock` where that matters. The
// timer is armed with whatever `setTimeout` is current, so fake timers drive it; a timer still
// pending after REARM ms, or armed by another `setTimeout`, is taken as lost. Under fake timers
// (see `timeIsFaked`) every call reads `Date.now()`, so time set by a test is seen at once.
const RESOLUTION = 1;
const READS = 64;
const REARM = 1000;
const SystemDate = Date;

let reading = 0;
let reads = 0;
let armedAt = Number.NEGATIVE_INFINITY;
let armedWith: typeof setTimeout | undefined;

/**
 * Whether time is faked: a global `Date` other than the one this module loaded with, or the fake
 * `Date` or `setTimeout` of @sinonjs/fake-timers (vitest, jest), which carry a `clock`, even when
 * they were installed before this module loaded.
 */
export function timeIsFaked(): boolean {
  return Date !== SystemDate || 'clock' in Date || 'clock' in setTimeout;
}

/**
 * The default clock's reading: `Date.now()` read at most {@link RESOLUTION} ms of event-loop time
 * (or 64 calls) ago, so an entry may be served up to about a millisecond past its expiry, or
 * longer while the event loop is blocked. Exact under fake timers.
 */
export function coarseNow(): number {
  // Comparing globals costs nothing once optimized (V8 treats them as constants).
  return --reads > 0 && armedWith === setTimeout && Date === SystemDate ? reading : refresh();
}

function refresh(): number {
  reading = Date.now();
  if (timeIsFaked()) {
    reads = 0;
    return reading;
  }
  reads = READS;
  if (armedWith !== setTimeout || reading - armedAt >= REARM || reading < armedAt) {
    armedAt = reading;
    armedWith = setTimeout;
    setTimeout(expire, RESOLUTION).unref?.();
  }
  return reading;
}

function expire(): void {
  armedAt = Number.NEGATIVE_INFINITY;
  reads = 0;
}

/**
 * The default clock: {@link coarseNow}, a reading at most about a millisecond old while the event
 * loop turns (exact under fake timers).
 */
export const systemClock: Clock = { now: coarseNow };

/** A clock that reads `Date.now()` on every call: exact even after a long synchronous stretch. */
export const exactClock: Clock = { now: () => Date.now() };
