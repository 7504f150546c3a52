import { Slots, SystemDate } from './slots.js';

/**
 * A least-recently-used map from string keys to values that each carry an expiry time: the
 * slots of {@link Slots} linked from most recently used (`head`) to least (`tail`).
 */
export class Lru<V> extends Slots<V> {
  // `prev` is the more recently used neighbour, `next` the less recently used one.
  declare private head: number;
  declare private tail: number;

  /** `max` entries at most; with `maxSize`, sizes given to {@link Lru.set} sum to at most it. */
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
      (this.expiry[slot]! <= this.now || Date !== SystemDate || setTimeout !== this.armedWith) &&
      this.time() >= this.expiry[slot]!
    ) {
      this.remove(key, slot);
      return undefined;
    }
    if (slot !== this.head) this.moveToHead(slot);
    return this.values[slot];
  }

  /**
   * Stores the value as most recently used until `until` (ms epoch), evicting least recently used
   * entries as needed; `size` counts towards `maxSize`. Returns `false`, storing nothing, when
   * `until` is not after now (or is NaN).
   */
  set(key: string, value: V, until: number, size: number): boolean {
    const offset = this.offsetOf(until);
    if (offset < 0) return false;
    let slot = this.index[key];
    if (slot === undefined) {
      slot = this.allocate();
      this.claim(key, slot);
      if (this.count === 1) {
        this.tail = slot;
      } else {
        this.prev[this.head] = slot;
        this.next[slot] = this.head;
      }
      this.head = slot;
    } else if (slot !== this.head) {
      this.moveToHead(slot);
    }
    this.values[slot] = value;
    this.expireAt(slot, offset);
    const sizes = this.sizes;
    if (sizes !== undefined) {
      this.totalSize += size - sizes[slot]!;
      sizes[slot] = size;
      while (this.totalSize > this.maxSize) {
        this.remove(this.keys[this.tail]!, this.tail);
        this.evicted();
      }
    }
    return true;
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
