import { Slots } from './slots.js';

/**
 * A least-recently-used map from string keys to values that each carry an expiry time: the
 * slots of {@link Slots} linked from most recently used (`head`) to least (`tail`).
 */
export class Lru<V> extends Slots<V> {
  // `prev` is the more recently used neighbour, `next` the less recently used one.
  declare private head: number;
  declare private tail: number;

  /** `max` entries at most; with `maxSize`, sizes given to {@link Slots.set} sum to at most it. */
  constructor(max: number, maxSize?: number) {
    super(max, maxSize, max);
    this.head = 0;
    this.tail = 0;
  }

  /** Returns the value and marks it most recently used, or `undefined` when missing or expired. */
  get(key: string): V | undefined {
    const slot = this.index[key];
    if (slot === undefined) return undefined;
    // The test of Slots.expired(), written out: measured faster on this path.
    if (
      (this.expiry[slot]! <= this.now ||
        Date !== this.systemDate ||
        setTimeout !== this.armedWith) &&
      this.time() >= this.expiry[slot]!
    ) {
      this.remove(key, slot);
      return undefined;
    }
    if (slot !== this.head) this.moveToHead(slot);
    return this.values[slot];
  }

  protected insert(key: string, size: number): number {
    const slot = this.allocate();
    this.claim(key, slot);
    if (this.count === 1) {
      this.tail = slot;
    } else {
      this.prev[this.head] = slot;
      this.next[slot] = this.head;
    }
    this.head = slot;
    this.resize(slot, size);
    return slot;
  }

  protected replace(slot: number, size: number): void {
    if (slot !== this.head) this.moveToHead(slot);
    this.resize(slot, size);
  }

  // Least recently used entries go while the sizes (with maxSize) sum to more than it.
  protected settle(): void {
    while (this.totalSize > this.maxSize) {
      this.remove(this.keys[this.tail]!, this.tail);
      this.evicted();
    }
  }

  protected remove(key: string, slot: number): void {
    const { prev, next } = this;
    const before = prev[slot]!;
    const after = next[slot]!;
    if (slot === this.head) this.head = after;
    else next[before] = after;
    if (slot === this.tail) this.tail = before;
    else prev[after] = before;
    this.release(key, slot);
  }

  protected reset(): void {
    this.head = this.tail = 0;
  }

  private allocate(): number {
    const slot = this.take();
    return slot === -1 ? this.evictTail() : slot;
  }

  // Frees the least recently used slot for immediate reuse.
  private evictTail(): number {
    this.evicted();
    const slot = this.tail;
    delete this.index[this.keys[slot]!];
    this.count--;
    this.tail = this.prev[slot]!;
    if (this.sizes !== undefined) {
      this.totalSize -= this.sizes[slot]!;
      this.sizes[slot] = 0;
    }
    return slot;
  }

  // The caller has checked that `slot` is not the head, so there are two entries or more.
  private moveToHead(slot: number): void {
    const { prev, next } = this;
    const before = prev[slot]!;
    if (slot === this.tail) {
      this.tail = before;
    } else {
      const after = next[slot]!;
      prev[after] = before;
      next[before] = after;
    }
    prev[this.head] = slot;
    next[slot] = this.head;
    this.head = slot;
  }
}
