/** The first wait before a round is tried again; it doubles after each failed round. */
const FIRST_DELAY = 100;
/** The longest wait between two rounds. */
const LAST_DELAY = 5_000;

/**
 * Runs a round of retries on a timer with backoff until one leaves nothing to do: 100 ms after
 * work arrives, doubling up to 5 s while rounds fail, one round at a time. The timer never
 * keeps the process alive.
 */
export class RetryLoop {
  // Resolves to whether the round failed (anything failed counts), and whether work remains.
  readonly #round: () => Promise<{ failed: boolean; remaining: boolean }>;
  #timer: NodeJS.Timeout | undefined;
  #delay = FIRST_DELAY;
  #running = false;
  #again = false;
  #closed = false;

  /** `round` retries what waits and tells whether it failed and whether anything remains. */
  constructor(round: () => Promise<{ failed: boolean; remaining: boolean }>) {
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

  /** Stops: no round starts any more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #run(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    let outcome: { failed: boolean; remaining: boolean };
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
