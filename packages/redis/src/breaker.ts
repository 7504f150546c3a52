/** The state of a {@link CircuitBreaker}: calls flow when `'closed'`, fail fast when `'open'`. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Options of the circuit breaker that stops calling a Redis that keeps failing. */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failed operations (timeouts, lost connection) that open the circuit.
   * @default 5
   */
  threshold?: number;
  /**
   * Time in ms the circuit stays open before a probe (`PING`) is sent: its answer closes the
   * circuit, a failure keeps it open for another `resetTimeout`. The circuit also closes as soon
   * as the client reconnects.
   * @default 1000
   */
  resetTimeout?: number;
}

/** Counts consecutive failures and says when calls should fail fast. */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  readonly #threshold: number;
  readonly #onChange: (state: BreakerState) => void;

  constructor(options: CircuitBreakerOptions, onChange: (state: BreakerState) => void) {
    this.#threshold = options.threshold ?? 5;
    this.#onChange = onChange;
  }

  /** The current state. */
  get state(): BreakerState {
    return this.#state;
  }

  /** Records a successful operation; closes the circuit. */
  success(): void {
    this.#failures = 0;
    if (this.#state !== 'closed') this.#set('closed');
  }

  /** Records a failed operation; opens the circuit past the threshold or after a failed probe. */
  failure(): void {
    this.#failures++;
    if (
      this.#state === 'half-open' ||
      (this.#state === 'closed' && this.#failures >= this.#threshold)
    ) {
      this.#set('open');
    }
  }

  /** Moves an open circuit to half-open while a probe runs. */
  probing(): void {
    if (this.#state === 'open') this.#set('half-open');
  }

  #set(state: BreakerState): void {
    this.#state = state;
    this.#onChange(state);
  }
}
