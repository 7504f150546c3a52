/** The first wait before failed tag invalidations are tried again; it doubles up to the last. */
const FIRST_DELAY = 100;
const LAST_DELAY = 5_000;

/**
 * Tag invalidations that failed (the store could not stamp them or take their records), tried
 * again with backoff until one lands: an invalidation that resolved `false` is reported, and
 * still reaches the store and the other processes once the store is back. A retry takes a new
 * stamp, later than the first, so it voids at least what the first would have. The timer never
 * keeps the process alive.
 */
export class TagRetries {
  readonly #waiting = new Set<string>();
  readonly #invalidate: (tags: string[]) => Promise<boolean>;
  #timer: NodeJS.Timeout | undefined;
  #delay = FIRST_DELAY;
  #closed = false;

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
    this.#schedule();
  }

  /** Stops trying. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => void this.#round(), this.#delay);
    this.#timer.unref?.();
  }

  async #round(): Promise<void> {
    const tags = [...this.#waiting];
    this.#waiting.clear();
    const landed = await this.#invalidate(tags).catch(() => false);
    this.#timer = undefined;
    if (landed) {
      this.#delay = FIRST_DELAY;
    } else {
      for (const tag of tags) this.#waiting.add(tag);
      this.#delay = Math.min(this.#delay * 2, LAST_DELAY);
    }
    if (this.#waiting.size > 0) this.#schedule();
  }
}
