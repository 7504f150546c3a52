import type { WriteBehindEntry } from './queue.js';

/** The newest write or delete of a key this process queued and has not seen committed. */
export interface PendingWrite<V> {
  /** The value written; `undefined` for a delete. */
  readonly value: V | undefined;
  /** `true` for a delete. */
  readonly deleted: boolean;
}

interface Slot<V> extends PendingWrite<V> {
  // The write's sequence once the queue has it; `undefined` while the push is in flight; `null`
  // from a queue that does not tell (then any committed write of the key clears the slot).
  sequence: string | null | undefined;
}

/**
 * The newest queued write of each key, from `write()` until a batch holding it (or a newer write
 * of the key) is committed or dead-lettered, so that reads can see writes still in the queue.
 */
export class PendingWrites<V> {
  readonly #slots = new Map<string, Slot<V>>();

  /**
   * Records a write (or delete, `value` undefined) just pushed. Call `stored` with what the push
   * resolved (its sequence), or `failed` if it rejected.
   */
  add(key: string, value: V | undefined): { stored(sequence: unknown): void; failed(): void } {
    const slot: Slot<V> = { value, deleted: value === undefined, sequence: undefined };
    this.#slots.set(key, slot);
    return {
      stored: (sequence) => {
        slot.sequence = typeof sequence === 'string' ? sequence : null;
      },
      failed: () => {
        if (this.#slots.get(key) === slot) this.#slots.delete(key);
      },
    };
  }

  /** The newest queued write of `key`, or `undefined` when none is waiting. */
  get(key: string): PendingWrite<V> | undefined {
    const slot = this.#slots.get(key);
    return slot === undefined ? undefined : { value: slot.value, deleted: slot.deleted };
  }

  /** Forgets the writes these entries settle (committed, dead-lettered or superseded). */
  settle(entries: WriteBehindEntry<V>[]): void {
    for (const entry of entries) {
      const slot = this.#slots.get(entry.key);
      if (slot === undefined || slot.sequence === undefined) continue;
      if (slot.sequence === null || entry.sequence >= slot.sequence) this.#slots.delete(entry.key);
    }
  }

  /** Forgets every write: they will not be written by this process. */
  clear(): void {
    this.#slots.clear();
  }
}
