/** Load latency percentiles in ms, of the latest loader calls (`NaN` before the first). */
export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p99: number;
  /** How many calls they are drawn from (at most 1,024: the latest). */
  count: number;
}

const SIZE = 1024;

/** The durations of the latest 1,024 calls, in a ring; percentiles are computed when asked. */
export class LatencyWindow {
  readonly #times = new Float64Array(SIZE);
  #count = 0;

  /** Records one duration in ms. */
  add(ms: number): void {
    this.#times[this.#count % SIZE] = ms;
    this.#count++;
  }

  /** The percentiles of the durations held (nearest rank). */
  percentiles(): LatencyPercentiles {
    const count = Math.min(this.#count, SIZE);
    const sorted = this.#times.slice(0, count).sort();
    const at = (q: number) => (count === 0 ? Number.NaN : sorted[Math.ceil(q * count) - 1]!);
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), count };
  }
}
