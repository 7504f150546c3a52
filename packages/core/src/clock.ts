// Reading the system clock can cost more than a whole cache hit, so expiry checks share one
// reading. It is dropped RESOLUTION ms later by an unref'd timer, or after READS uses, which
// bounds its age while a long synchronous loop keeps timers from running. The timer is armed
// with whatever `setTimeout` is current, so fake timers drive it too; a timer still pending after
// REARM ms, or armed by another `setTimeout`, is taken as lost. When the global `Date` is not the
// one this module loaded with (fake timers, timekeeper), every call reads it: time set by a test
// (vi.setSystemTime) is then seen at once.
const RESOLUTION = 1;
const READS = 256;
const REARM = 1000;
const SystemDate = Date;

let now = 0;
let reads = 0;
let armedAt = Number.NEGATIVE_INFINITY;
let armedWith: typeof setTimeout | undefined;

/**
 * The current time in ms since the epoch, read at most about a millisecond (or 256 calls) ago:
 * the expiry checks of cache hits use it instead of `Date.now()`, which can cost as much as the
 * whole hit. An entry may therefore be served up to about a millisecond past its expiry. Under
 * fake timers (a replaced global `Date`) it is exact.
 */
export function coarseNow(): number {
  // Comparing globals costs nothing once optimized (V8 treats them as constants).
  return --reads > 0 && armedWith === setTimeout && Date === SystemDate ? now : refresh();
}

function refresh(): number {
  now = Date.now();
  if (Date !== SystemDate) {
    reads = 0;
    return now;
  }
  reads = READS;
  if (armedWith !== setTimeout || now - armedAt >= REARM || now < armedAt) {
    armedAt = now;
    armedWith = setTimeout;
    setTimeout(expire, RESOLUTION).unref?.();
  }
  return now;
}

function expire(): void {
  armedAt = Number.NEGATIVE_INFINITY;
  reads = 0;
}
