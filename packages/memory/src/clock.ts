// Reading the system clock can cost more than a whole cache hit, so expiry checks share one
// reading. It is dropped RESOLUTION ms later by an unref'd timer, or after READS uses, which
// bounds its age while a long synchronous loop keeps timers from running. The timer is armed
// with whatever `setTimeout` is current, so fake timers (vi.advanceTimersByTime) drive it too; a
// timer still pending after REARM ms, or armed by another `setTimeout`, is taken as lost.
// Setting the system time alone (vi.setSystemTime) is seen within 256 reads or once timers run.
const RESOLUTION = 1;
const READS = 256;
const REARM = 1000;

let now = 0;
let reads = 0;
let armedAt = Number.NEGATIVE_INFINITY;
let armedWith: typeof setTimeout | undefined;

/** The current time in ms since the epoch, read at most about a millisecond (or 256 calls) ago. */
export function clock(): number {
  // Comparing `setTimeout` costs nothing once optimized (V8 treats the global as a constant), and
  // makes the first read after fake timers are installed or removed a fresh one.
  return --reads > 0 && armedWith === setTimeout ? now : refresh();
}

function refresh(): number {
  now = Date.now();
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
