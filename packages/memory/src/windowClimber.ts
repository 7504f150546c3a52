// The first step moves the window by this share of the capacity; each step after one is this
// much smaller, unless the hit ratio moved by RESTART or more (the workload changed), which
// starts the steps over.
const STEP_SHARE = 0.0625;
const DECAY = 0.98;
const RESTART = 0.05;
// The window takes at most this share of the capacity.
const MOST = 0.8;

/**
 * Sizes the admission window of W-TinyLFU by hill climbing on the hit ratio: after each sample of
 * requests, the window moves by a step in the direction that last raised the hit ratio, and
 * turns back when the hit ratio fell. Popularity that shifts fast (recency) grows the window;
 * stable popularity (frequency) shrinks it, leaving the room to the keys the sketch says are
 * worth keeping.
 */
export class WindowClimber {
  declare private readonly capacity: number;
  declare private readonly least: number;
  declare private step: number;
  declare private previous: number;

  /**
   * For a store holding `capacity` (entries, or the sum of sizes); the window never goes below
   * `least` nor above 80% of the capacity.
   */
  constructor(capacity: number, least: number) {
    this.capacity = capacity;
    this.least = least;
    // The first step shrinks the window: most workloads favour frequency.
    this.step = -STEP_SHARE * capacity;
    this.previous = Number.NaN;
  }

  /** The window's size after a sample of `requests` of which `hits` hit, from its size `window`. */
  next(window: number, hits: number, requests: number): number {
    const ratio = requests === 0 ? 0 : hits / requests;
    const change = Number.isNaN(this.previous) ? 0 : ratio - this.previous;
    this.previous = ratio;
    const step = change < 0 ? -this.step : this.step;
    this.step =
      Math.abs(change) >= RESTART ? Math.sign(step) * STEP_SHARE * this.capacity : step * DECAY;
    return this.clamp(window + step);
  }

  /** `window` brought within the bounds. */
  clamp(window: number): number {
    return Math.max(this.least, Math.min(this.capacity * MOST, window));
  }
}
