import { RetryLoop } from './retryLoop.js';

/**
 * Tag invalidations that failed (the store could not stamp them or take their records), tried
 * again with backoff until one lands: an invalidation that resolved `false` is reported, and
 * still reaches the store and the other processes once the store is back. A retry takes a new
 * stamp, later than the first, so it voids at least what the first would have.
 */
export class TagRetries {
  readonly #waiting = new Set<string>();
  readonly #invalidate: (tags: string[]) => Promise<boolean>;
  readonly #loop = new RetryLoop(() => this.#round());

  /** `invalidate` runs a tag invalidation, resolving whether it landed. */
  constructor(invalidate: (tags: string[]) => Promise<boolean>) {
    this.#invalidate = invalidate;
  }

  /** How many tags wait. */
  get size(): number {
    return this.#waiting.size;
  }

  /** The invalidation of `tags` failed. */
  failed(tags: readonly string[]): void {
    for (const tag of tags) this.#waiting.add(tag);
    this.#loop.schedule();
  }

  /** The store answered a call: if rounds have been failing, one runs now (see RetryLoop). */
  answered(): void {
    if (this.#waiting.size > 0) this.#loop.answered();
  }

  /** Stops trying. */
  close(): void {
    this.#loop.close();
  }

  async #round(): Promise<{ failed: boolean; remaining: boolean }> {
    const tags = [...this.#waiting];
    this.#waiting.clear();
    const landed = await this.#invalidate(tags).catch(() => false);
    if (!landed) for (const tag of tags) this.#waiting.add(tag);
    return { failed: !landed, remaining: this.#waiting.size > 0 };
  }
}
