import { RetryLoop } from './retryLoop.js';

/**
 * Tag invalidations that failed (the store could not stamp them or take their records), tried
 * again with backoff until one lands: an invalidation that resolved `false` is reported, and
 * still reaches the store and the other processes once the store is back. A retry takes a new
 * stamp, later than the first, so it voids at least what the first would have. A tag waiting
 * for a soft invalidation and then a hard one is retried hard.
 */
export class TagRetries {
  // Tag → whether its invalidation is soft.
  readonly #waiting = new Map<string, boolean>();
  readonly #invalidate: (tags: string[], soft: boolean) => Promise<boolean>;
  readonly #loop = new RetryLoop(() => this.#round());

  /** `invalidate` runs a tag invalidation (soft or not), resolving whether it landed. */
  constructor(invalidate: (tags: string[], soft: boolean) => Promise<boolean>) {
    this.#invalidate = invalidate;
  }

  /** How many tags wait. */
  get size(): number {
    return this.#waiting.size;
  }

  /** The invalidation of `tags` failed (a soft one when `soft`). */
  failed(tags: readonly string[], soft = false): void {
    for (const tag of tags) this.#add(tag, soft);
    this.#loop.schedule();
  }

  /** The store answered a call: if rounds have been failing, one runs now (see RetryLoop). */
  answered(): void {
    this.#loop.answered();
  }

  /** Stops trying. */
  close(): void {
    this.#loop.close();
  }

  async #round(): Promise<{ failed: boolean; remaining: boolean }> {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    let failed = false;
    for (const soft of [false, true]) {
      const tags = waiting.filter(([, s]) => s === soft).map(([tag]) => tag);
      if (tags.length === 0) continue;
      if (await this.#invalidate(tags, soft).catch(() => false)) continue;
      failed = true;
      for (const tag of tags) this.#add(tag, soft);
    }
    return { failed, remaining: this.#waiting.size > 0 };
  }

  // A hard invalidation waiting for a tag wins over a soft one.
  #add(tag: string, soft: boolean): void {
    this.#waiting.set(tag, soft && this.#waiting.get(tag) !== false);
  }
}
