/** How old a reading of the Redis clock gets before a new one is taken (in the background). */
const FRESH = 5_000;
/** Slack for two clocks drifting apart between readings: 1 ms per second (1,000 ppm), plus 1 ms. */
const DRIFT = 0.001;

/** This process's monotonic clock in ms since the epoch (what `StoreWriteOptions.since` uses). */
export function localNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Where the Redis server's clock stands against this process's, as a bound that never runs
 * ahead: from a reply stamped `redisTime` by the server and received at local time `received`,
 * the server's clock read at least `redisTime - received` more than ours at any later moment
 * (give or take drift). So a local moment maps to a Redis time no later than the true one: a
 * load's start mapped this way can only be taken for earlier than it was, which makes a fence
 * refuse more, never less.
 */
export class RedisClock {
  // The greatest `redisTime - received` read within FRESH of `#at` (local time of that reading).
  #offset = Number.NEGATIVE_INFINITY;
  #at = Number.NEGATIVE_INFINITY;

  /** Learns from a reply the server stamped `redisTime` (ms), received at local time `received`. */
  observe(redisTime: number, received: number = localNow()): void {
    const offset = redisTime - received;
    if (received - this.#at > FRESH || offset >= this.#offset) {
      this.#offset = offset;
      this.#at = received;
    }
  }

  /** Whether any reading is known. */
  get known(): boolean {
    return this.#at !== Number.NEGATIVE_INFINITY;
  }

  /** Whether the last reading is old enough to take a new one (it stays usable: see below). */
  stale(now: number = localNow()): boolean {
    return now - this.#at > FRESH;
  }

  /**
   * The Redis time of local moment `moment`, at the latest (call it once {@link known}). The
   * further `moment` lies from the reading, the more drift it allows for, so an old reading
   * only makes fences refuse more.
   */
  redisTimeOf(moment: number): number {
    return moment + this.#offset - 1 - Math.abs(moment - this.#at) * DRIFT;
  }
}
