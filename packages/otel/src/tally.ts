import type { Attributes } from '@opentelemetry/api';

/**
 * Sums counted in process, per set of attributes, and reported by an observable counter at
 * each collection: a hot event costs a string key and a map lookup instead of the SDK hashing
 * its attributes on every call.
 */
export class Tally {
  readonly #sums = new Map<string, { attributes: Attributes; value: number }>();

  /**
   * Adds 1 under `key`; `attributes(message)` builds the attributes the first time the key is
   * seen (a function made once, not per event).
   */
  add<M>(key: string, attributes: (message: M) => Attributes, message: M): void {
    const sum = this.#sums.get(key);
    if (sum !== undefined) sum.value++;
    else this.#sums.set(key, { attributes: attributes(message), value: 1 });
  }

  /** Every sum with its attributes. */
  sums(): Iterable<{ attributes: Attributes; value: number }> {
    return this.#sums.values();
  }
}
