/** The first wait before a round is tried again; it doubles after each failed round. */
const FIRST_DELAY = 100;
/** The longest wait between two rounds. */
const LAST_DELAY = 5_000;

/** What a round of retries tells: whether it failed (anything failed counts), and whether work remains. */
export interface RetryRound {
  failed: boolean;
  remaining: boolean;
}

/**
 * Runs a round of retries on a timer with backoff until one leaves nothing to do: 100 ms after
 * work arrives, doubling up to 5 s while rounds fail, one round at a time. The timer never
 * keeps the process alive. Core retries failed tag invalidations with it; `@cache/multilevel`
 * its tier repairs and bus publishes; a store of tiers of its own can do the same.
 */
export class RetryLoop {
  readonly #round: () => Promise<RetryRound>;
  #timer: NodeJS.Timeout | undefined;
  #delay = FIRST_DELAY;
  #running = false;
  #again = false;
  #closed = false;
  // When the last round began (Date.now()).
  #began = Number.NEGATIVE_INFINITY;

  /** `round` retries what waits and tells whether it failed and whether anything remains. */
  constructor(round: () => Promise<RetryRound>) {
    this.#round = round;
  }

  /** Work arrived: a round runs after the current delay, unless one is already due or running. */
  schedule(): void {
    if (this.#timer !== undefined || this.#running || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, this.#delay);
    this.#timer.unref?.();
  }

  /** Runs a round now (the connection is back, say), with the backoff reset. */
  now(): void {
    this.#delay = FIRST_DELAY;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A round under way may have failed before the connection came back: one more follows it.
    if (this.#running) this.#again = true;
    else void this.#run();
  }

  /**
   * The target answered a call: a round waiting for its timer runs now instead, unless one began
   * less than a quarter of the current backoff ago. Work that failed on a call that timed out,
   * or that waited out an outage, then lands as soon as the target answers again (or within a
   * quarter of the backoff: 1.25 s at most), not up to 5 s later, while other processes keep
   * serving what it voids. Rounds that keep failing while the target answers other calls still
   * back off: at most four times as often as the timer alone would run them.
   */
  answered(): void {
    if (this.#timer === undefined || this.#closed) return;
    if (Date.now() - this.#began < this.#delay / 4) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#run();
  }

  /** Stops: no round starts any more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #run(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#began = Date.now();
    let outcome: RetryRound;
    try {
      outcome = await this.#round();
    } finally {
      this.#running = false;
    }
    if (this.#again) {
      this.#again = false;
      this.#delay = FIRST_DELAY;
      if (outcome.remaining) void this.#run();
      return;
    }
    this.#delay = outcome.failed ? Math.min(this.#delay * 2, LAST_DELAY) : FIRST_DELAY;
    if (outcome.remaining) this.schedule();
  }
}
