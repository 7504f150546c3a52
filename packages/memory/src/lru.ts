import { coarseNow } from '@cache/core';

const INITIAL_CAPACITY = 1024;
// Expiry times are kept as ms after `base` in 32 bits; later ones are capped (about 49 days).
const FAR = 0xffff_ffff;
const REBASE_AFTER = 2 ** 31;

/**
 * A least-recently-used map from string keys to values that each carry an expiry time.
 *
 * Entries live in numbered slots: parallel arrays hold each slot's key and value, and one typed
 * array holds its links (from most recently used, `head`, to least, `tail`) and its expiry, so a
 * hit allocates nothing. Deleted slots are kept on a free list threaded through the `next` links.
 * A hit on a large store costs mostly cache misses, so the layout minimises the lines it touches:
 * the index from key to slot is a null-prototype object rather than a `Map` (V8 keeps a large one
 * as an open-addressing dictionary: one probe instead of a `Map`'s bucket and chain), at the
 * price of more memory per entry, and a slot's links and expiry share one cache line.
 */
export class Lru<V> {
  readonly #max: number;
  readonly #maxSize: number;
  #capacity = 0;
  #index: Record<string, number> = Object.create(null);
  #count = 0;
  #keys: (string | undefined)[] = [];
  #values: (V | undefined)[] = [];
  // Per slot: [3 * slot] the previous (more recently used) slot, [3 * slot + 1] the next one and
  // [3 * slot + 2] the expiry offset, side by side so a hit reads one line for all three.
  #links = new Uint32Array(0);
  #sizes: Float64Array | undefined;
  #base = 0;
  #head = 0;
  #tail = 0;
  #used = 0;
  #free = 0;
  #freeCount = 0;
  #totalSize = 0;

  /** `max` entries at most; with `maxSize`, sizes given to {@link Lru.set} sum to at most it. */
  constructor(max: number, maxSize?: number) {
    this.#max = max;
    this.#maxSize = maxSize ?? Number.POSITIVE_INFINITY;
    if (maxSize !== undefined) this.#sizes = new Float64Array(0);
    this.#base = Math.floor(coarseNow()) - 1;
    this.#grow();
  }

  /** How many entries are held, expired ones not yet reclaimed included. */
  get size(): number {
    return this.#count;
  }

  /** Returns the value and marks it most recently used, or `undefined` when missing or expired. */
  get(key: string): V | undefined {
    const slot = this.#index[key];
    if (slot === undefined) return undefined;
    if (this.#links[slot * 3 + 2]! <= coarseNow() - this.#base) {
      this.#remove(key, slot);
      return undefined;
    }
    if (slot !== this.#head) this.#moveToHead(slot);
    return this.#values[slot];
  }

  /**
   * Stores the value as most recently used until `until` (ms epoch, after `now`, the caller's
   * reading of {@link clock}), evicting least recently used entries as needed. `size` counts
   * towards `maxSize`.
   */
  set(key: string, value: V, until: number, size: number, now: number): void {
    let slot = this.#index[key];
    if (slot === undefined) {
      slot = this.#allocate();
      this.#keys[slot] = key;
      this.#index[key] = slot;
      if (this.#count++ === 0) {
        this.#tail = slot;
      } else {
        this.#links[this.#head * 3] = slot;
        this.#links[slot * 3 + 1] = this.#head;
      }
      this.#head = slot;
    } else if (slot !== this.#head) {
      this.#moveToHead(slot);
    }
    this.#values[slot] = value;
    this.#setUntil(slot, until, now);
    if (this.#sizes !== undefined) {
      this.#totalSize += size - this.#sizes[slot]!;
      this.#sizes[slot] = size;
      while (this.#totalSize > this.#maxSize) this.#remove(this.#keys[this.#tail]!, this.#tail);
    }
  }

  /** Removes the key; returns whether it was held (expired or not). */
  delete(key: string): boolean {
    const slot = this.#index[key];
    if (slot === undefined) return false;
    this.#remove(key, slot);
    return true;
  }

  /** Removes every key starting with `prefix`, or every key when it is empty. */
  clear(prefix: string): void {
    if (prefix === '') {
      this.#index = Object.create(null);
      this.#count = this.#capacity = this.#used = this.#freeCount = this.#totalSize = 0;
      this.#grow();
      return;
    }
    for (const key in this.#index) {
      if (key.startsWith(prefix)) this.#remove(key, this.#index[key]!);
    }
  }

  /** Removes every key `matches` accepts; returns how many of them had not expired. */
  deleteMatching(matches: RegExp): number {
    const now = coarseNow() - this.#base;
    let removed = 0;
    for (const key in this.#index) {
      if (!matches.test(key)) continue;
      const slot = this.#index[key]!;
      if (this.#links[slot * 3 + 2]! > now) removed++;
      this.#remove(key, slot);
    }
    return removed;
  }

  #setUntil(slot: number, until: number, now: number): void {
    if (now - this.#base >= REBASE_AFTER) this.#rebase(Math.floor(now) - 1);
    const offset = Math.ceil(until - this.#base);
    this.#links[slot * 3 + 2] = Math.min(offset, FAR);
  }

  // Moves `base` forward so offsets stay in 32 bits; no entry ends up kept longer than before.
  #rebase(base: number): void {
    const shift = base - this.#base;
    const links = this.#links;
    for (let at = 2; at < this.#used * 3; at += 3) links[at] = Math.max(0, links[at]! - shift);
    this.#base = base;
  }

  #allocate(): number {
    if (this.#freeCount > 0) {
      const slot = this.#free;
      this.#free = this.#links[slot * 3 + 1]!;
      this.#freeCount--;
      return slot;
    }
    if (this.#used === this.#capacity) {
      if (this.#capacity === this.#max) return this.#evictTail();
      this.#grow();
    }
    return this.#used++;
  }

  // Frees the least recently used slot for immediate reuse.
  #evictTail(): number {
    const slot = this.#tail;
    delete this.#index[this.#keys[slot]!];
    this.#count--;
    this.#tail = this.#links[slot * 3]!;
    if (this.#sizes !== undefined) {
      this.#totalSize -= this.#sizes[slot]!;
      this.#sizes[slot] = 0;
    }
    return slot;
  }

  #remove(key: string, slot: number): void {
    delete this.#index[key];
    this.#count--;
    const links = this.#links;
    const prev = links[slot * 3]!;
    const next = links[slot * 3 + 1]!;
    if (slot === this.#head) this.#head = next;
    else links[prev * 3 + 1] = next;
    if (slot === this.#tail) this.#tail = prev;
    else links[next * 3] = prev;
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    if (this.#sizes !== undefined) {
      this.#totalSize -= this.#sizes[slot]!;
      this.#sizes[slot] = 0;
    }
    links[slot * 3 + 1] = this.#free;
    this.#free = slot;
    this.#freeCount++;
  }

  // The caller has checked that `slot` is not the head, so there are two entries or more.
  #moveToHead(slot: number): void {
    const links = this.#links;
    const prev = links[slot * 3]!;
    if (slot === this.#tail) {
      this.#tail = prev;
    } else {
      const next = links[slot * 3 + 1]!;
      links[next * 3] = prev;
      links[prev * 3 + 1] = next;
    }
    links[this.#head * 3] = slot;
    links[slot * 3 + 1] = this.#head;
    this.#head = slot;
  }

  // Allocates room for twice as many slots (up to max), or the first slots after a full clear.
  #grow(): void {
    const capacity = Math.min(this.#max, Math.max(INITIAL_CAPACITY, this.#capacity * 2));
    const used = this.#used;
    this.#keys = copy(this.#keys, capacity, used);
    this.#values = copy(this.#values, capacity, used);
    this.#links = copyTyped(new Uint32Array(capacity * 3), this.#links, used * 3);
    if (this.#sizes !== undefined)
      this.#sizes = copyTyped(new Float64Array(capacity), this.#sizes, used);
    this.#capacity = capacity;
  }
}

function copy<T>(from: (T | undefined)[], capacity: number, used: number): (T | undefined)[] {
  const to = new Array<T | undefined>(capacity);
  for (let i = 0; i < used; i++) to[i] = from[i];
  return to;
}

function copyTyped<T extends Float64Array | Uint32Array>(to: T, from: T, used: number): T {
  to.set(from.subarray(0, used));
  return to;
}
