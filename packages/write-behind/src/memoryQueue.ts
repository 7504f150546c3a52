import type { WriteBehindEntry, WriteQueue } from './queue.js';
import { counterSequence } from './sequence.js';

/**
 * The default queue: an array in this process. Fast, and lost if the process dies before a
 * flush; use `redisStreamQueue` from `@cache/write-behind/redis` for writes that must survive a crash.
 */
export class MemoryQueue<V = unknown> implements WriteQueue<V> {
  /** Always `'memory'`. */
  readonly name = 'memory';
  /** Always `false`: writes live in this process only. */
  readonly durable = false;
  #items: WriteBehindEntry<V>[] = [];
  #head = 0;
  #taken = 0;
  #sequence = 0;

  /** Writes queued or taken and not yet acknowledged. */
  get depth(): number {
    return this.#items.length - this.#head + this.#taken;
  }

  /** Appends a write; returns its sequence. */
  push(key: string, value: V): string {
    const sequence = counterSequence(++this.#sequence);
    this.#items.push({ key, value, id: String(this.#sequence), sequence });
    return sequence;
  }

  /** Appends a delete of `key`; returns its sequence. */
  pushDelete(key: string): string {
    const sequence = counterSequence(++this.#sequence);
    this.#items.push({
      key,
      value: undefined as V,
      id: String(this.#sequence),
      sequence,
      deleted: true,
    });
    return sequence;
  }

  /** Takes up to `max` writes, oldest first. */
  take(max: number): WriteBehindEntry<V>[] {
    const end = Math.min(this.#items.length, this.#head + max);
    const taken = this.#items.slice(this.#head, end);
    this.#head = end;
    this.#taken += taken.length;
    // Drop the consumed prefix once it is most of the array, so memory follows the depth.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }

  /** Forgets taken writes. */
  ack(entries: WriteBehindEntry<V>[]): void {
    this.#taken -= entries.length;
  }
}

/** Creates the default, in-process {@link MemoryQueue}. */
export function memoryQueue<V = unknown>(): MemoryQueue<V> {
  return new MemoryQueue<V>();
}
