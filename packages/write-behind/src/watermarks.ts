/**
 * The sequence of the newest write of each key this process committed, so that a write claimed
 * from a dead consumer is never written over a newer one. Holds at most `max` keys, forgetting
 * the least recently written: past that, only the database's own check (`WHERE seq < …`) guards.
 */
export class Watermarks {
  readonly #max: number;
  readonly #sequences = new Map<string, string>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Whether a write of `key` at `sequence` is not newer than one already committed. */
  covers(key: string, sequence: string): boolean {
    const newest = this.#sequences.get(key);
    return newest !== undefined && sequence <= newest;
  }

  /** Records that the write of `key` at `sequence` was committed. */
  record(key: string, sequence: string): void {
    if (this.covers(key, sequence)) return;
    this.#sequences.delete(key);
    this.#sequences.set(key, sequence);
    if (this.#sequences.size > this.#max) {
      this.#sequences.delete(this.#sequences.keys().next().value!);
    }
  }
}
