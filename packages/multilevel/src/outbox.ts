import { type InvalidationMessage, RetryLoop } from '@cache/core';

/** The most keys whose messages wait; beyond it they are replaced by one clear of everything. */
const MOST_KEYS = 10_000;

/**
 * Invalidation messages the bus failed to publish, published again in rounds with backoff
 * until the bus takes them, in the order they were sent (invalidations only evict, so a message
 * sent meanwhile may overtake them). Other processes keep their copies until then: nothing is
 * skipped silently. When too many wait, they are replaced by one clear of everything, so that
 * every other process distrusts its local tiers rather than miss a key.
 */
export class Outbox {
  #waiting: InvalidationMessage[] = [];
  #keys = 0;
  // The message being published, which may have reached the bus already.
  #sending: InvalidationMessage | undefined;
  readonly #publish: (message: InvalidationMessage) => Promise<void>;
  readonly #loop = new RetryLoop(() => this.#round());

  /** `publish` sends a message on the bus, rejecting when it could not. */
  constructor(publish: (message: InvalidationMessage) => Promise<void>) {
    this.#publish = publish;
  }

  /** How many messages wait. */
  get size(): number {
    return this.#waiting.length;
  }

  /** `message` could not be published: it waits for the next round. */
  add(message: InvalidationMessage): void {
    const first = this.#waiting[0];
    // A clear of everything not yet sent covers it.
    if (first?.type === 'clear' && first.prefix === undefined && first !== this.#sending) return;
    this.#waiting.push(message);
    this.#keys += message.keys?.length ?? 1;
    if (this.#keys > MOST_KEYS) {
      this.#waiting = [{ type: 'clear' }];
      this.#keys = 1;
    }
    this.#loop.schedule();
  }

  /** Tries again now (the bus is back, say). */
  now(): void {
    if (this.#waiting.length > 0) this.#loop.now();
  }

  /** The shared tiers answered a call: if rounds have been failing, one runs now (see RetryLoop). */
  answered(): void {
    this.#loop.answered();
  }

  /** Stops trying. */
  close(): void {
    this.#loop.close();
  }

  async #round(): Promise<{ failed: boolean; remaining: boolean }> {
    while (this.#waiting.length > 0) {
      const message = this.#waiting[0]!;
      this.#sending = message;
      try {
        await this.#publish(message);
      } catch {
        return { failed: true, remaining: true };
      } finally {
        this.#sending = undefined;
      }
      // Unless too many arrived meanwhile and replaced it.
      if (this.#waiting[0] === message) {
        this.#waiting.shift();
        this.#keys -= message.keys?.length ?? 1;
      }
    }
    return { failed: false, remaining: false };
  }
}
