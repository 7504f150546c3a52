import { timeIsFaked } from '@cache/core';

const INITIAL_CAPACITY = 1024;
// Expiry times are kept as ms after `base` in an Int32Array; later ones are capped at FAR (about
// 24 days), and `base` moves forward every REBASE_AFTER ms (about 12 days), so an entry with a
// longer TTL can be dropped early, never served late.
const FAR = 0x7fff_ffff;
const REBASE_AFTER = 2 ** 30;
// A hit compares expiry with a clock reading taken at most about RESOLUTION ms of event-loop time
// ago: a timer then marks it STALE, which sends the next hit to read the clock again (REARM ms
// without that timer firing means it was lost, as with fake timers).
const RESOLUTION = 1;
const STALE = FAR;
const REARM = 1000;
const SystemDate = Date;

// Whether time is faked (core's one answer, shared with its clock), or the `Date` is not the one
// this module loaded with. Then every expiry check reads the clock, and a reading is never left
// to a timer that may never fire.
function fakeTimers(): boolean {
  return Date !== SystemDate || timeIsFaked();
}

/**
 * A least-recently-used map from string keys to values that each carry an expiry time.
 *
 * Entries live in numbered slots: parallel arrays hold each slot's key, value, links (from most
 * recently used, `head`, to least, `tail`) and expiry, so a hit allocates nothing. Deleted slots
 * are kept on a free list threaded through `next`.
 *
 * Measured in `tooling/bench`, a hit on a large store is bounded by how many cache misses the CPU
 * overlaps, so every instruction on it counts:
 * - fields are TypeScript `declare`d and assigned once in the constructor: a class field (a
 *   `#private` one too) is first defined as `undefined`, after which V8 reloads it on every hit;
 * - the fields holding the structure are never reassigned, so V8 loads them once: the typed
 *   arrays are allocated for `max` slots up front (pages nobody writes take no memory), the
 *   key and value arrays grow in place, and `clear` empties the index rather than replacing it;
 * - a hit compares expiry with a clock reading kept on the instance as a small integer, and
 *   reads the clock only when the entry looks expired by it (as every entry does once a timer
 *   has marked the reading old). Counting hits to bound the reading's age cost 5% to 10% of a
 *   hit; the reading is bounded by event-loop time instead, so within one long synchronous run
 *   (or a chain of microtasks) an entry can be served up to that run's length past its expiry,
 *   never dropped early.
 */
export class Lru<V> {
  declare private readonly max: number;
  declare private readonly maxSize: number;
  declare private readonly index: Record<string, number>;
  declare private readonly keys: (string | undefined)[];
  declare private readonly values: (V | undefined)[];
  // `prev` is the more recently used neighbour, `next` the less recently used one.
  declare private readonly prev: Uint32Array;
  declare private readonly next: Uint32Array;
  declare private readonly expiry: Int32Array;
  declare private readonly sizes: Float64Array | undefined;
  declare private capacity: number;
  declare private count: number;
  declare private head: number;
  declare private tail: number;
  declare private used: number;
  declare private free: number;
  declare private freeCount: number;
  declare private totalSize: number;
  declare private base: number;
  // The clock reading, in ms after `base`, or STALE when the next hit must read the clock.
  declare private now: number;
  declare private armedAt: number;
  declare private armedWith: typeof setTimeout | undefined;

  /** `max` entries at most; with `maxSize`, sizes given to {@link Lru.set} sum to at most it. */
  constructor(max: number, maxSize?: number) {
    this.max = max;
    this.maxSize = maxSize ?? Number.POSITIVE_INFINITY;
    this.index = Object.create(null);
    this.keys = [];
    this.values = [];
    this.prev = new Uint32Array(max);
    this.next = new Uint32Array(max);
    this.expiry = new Int32Array(max);
    this.sizes = maxSize === undefined ? undefined : new Float64Array(max);
    this.capacity = 0;
    this.count = 0;
    this.head = 0;
    this.tail = 0;
    this.used = 0;
    this.free = 0;
    this.freeCount = 0;
    this.totalSize = 0;
    this.base = Date.now() - 1;
    this.now = STALE;
    this.armedAt = Number.NEGATIVE_INFINITY;
    this.armedWith = undefined;
    this.grow();
  }

  /** How many entries are held, expired ones not yet reclaimed included. */
  get size(): number {
    return this.count;
  }

  /** Returns the value and marks it most recently used, or `undefined` when missing or expired. */
  get(key: string): V | undefined {
    const slot = this.index[key];
    if (slot === undefined) return undefined;
    // `now` never runs ahead of the clock, so only an entry that looks expired by it, or a reading
    // that cannot be trusted (the test of current(), minus its STALE check, which the expiry
    // comparison covers: STALE is the largest expiry), needs the clock; comparing expiry first
    // measured faster than calling current(). The expiry is read again after the clock, which
    // can rebase every expiry.
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

  /** Whether an entry kept until `until` (ms epoch) would be live now. */
  live(until: number): boolean {
    const now = this.current();
    return until - this.base > now;
  }

  /**
   * Stores the value as most recently used until `until` (ms epoch), evicting least recently used
   * entries as needed; `size` counts towards `maxSize`. Returns `false`, storing nothing, when
   * `until` is not after now (or is NaN).
   */
  set(key: string, value: V, until: number, size: number): boolean {
    const now = this.current();
    const offset = until - this.base;
    if (!(offset > now)) return false;
    let slot = this.index[key];
    if (slot === undefined) {
      slot = this.allocate();
      this.keys[slot] = key;
      this.index[key] = slot;
      if (this.count++ === 0) {
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
    this.expiry[slot] = offset < FAR ? Math.ceil(offset) : FAR;
    const sizes = this.sizes;
    if (sizes !== undefined) {
      this.totalSize += size - sizes[slot]!;
      sizes[slot] = size;
      while (this.totalSize > this.maxSize) this.remove(this.keys[this.tail]!, this.tail);
    }
    return true;
  }

  /** Removes the key; returns whether it was held (expired or not). */
  delete(key: string): boolean {
    const slot = this.index[key];
    if (slot === undefined) return false;
    this.remove(key, slot);
    return true;
  }

  /** Removes every key. */
  clear(): void {
    const { index, keys } = this;
    for (let slot = 0; slot < this.used; slot++) {
      const key = keys[slot];
      if (key !== undefined) delete index[key];
    }
    this.sizes?.fill(0, 0, this.used);
    keys.length = this.values.length = 0;
    this.count = this.capacity = this.used = this.freeCount = this.totalSize = 0;
    this.grow();
  }

  /** Removes every key `matches` accepts; returns how many of them had not expired. */
  deleteMatching(matches: (key: string) => boolean): number {
    const now = this.time();
    let live = 0;
    this.removeEach((key, slot) => {
      if (!matches(key)) return false;
      if (this.expiry[slot]! > now) live++;
      return true;
    });
    return live;
  }

  // The time in ms after `base`: the last reading while it can be trusted, else read now.
  private current(): number {
    return this.now === STALE || Date !== SystemDate || setTimeout !== this.armedWith
      ? this.time()
      : this.now;
  }

  // Reads the clock: the current time in ms after `base`. It is kept in `now` for the expiry
  // checks of later hits, with a timer that marks it STALE after RESOLUTION ms (hits stop
  // trusting it when `setTimeout` is no longer the one that timer was armed with); under fake
  // timers it is not kept, so time set by a test is seen at once.
  private time(): number {
    const now = Date.now();
    if (now - this.base >= REBASE_AFTER || now < this.base) this.rebase(Math.floor(now) - 1);
    const offset = (now - this.base) | 0;
    if (fakeTimers()) {
      this.now = STALE;
      return offset;
    }
    this.now = offset;
    if (this.armedWith !== setTimeout || now - this.armedAt >= REARM || now < this.armedAt) {
      this.armedAt = now;
      this.armedWith = setTimeout;
      setTimeout(() => this.expire(), RESOLUTION).unref?.();
    }
    return offset;
  }

  private expire(): void {
    this.armedAt = Number.NEGATIVE_INFINITY;
    this.now = STALE;
  }

  // Moves `base` so that offsets stay in range; no entry ends up kept longer than before.
  private rebase(base: number): void {
    const shift = base - this.base;
    const expiry = this.expiry;
    for (let slot = 0; slot < this.used; slot++) {
      expiry[slot] = Math.max(0, Math.min(expiry[slot]! - shift, FAR));
    }
    this.base = base;
    this.now = STALE;
  }

  // Removes each held key (slot by slot, so removal is safe) that `matches` accepts.
  private removeEach(matches: (key: string, slot: number) => boolean): void {
    const keys = this.keys;
    for (let slot = 0; slot < this.used; slot++) {
      const key = keys[slot];
      if (key !== undefined && matches(key, slot)) this.remove(key, slot);
    }
  }

  private allocate(): number {
    if (this.freeCount > 0) {
      const slot = this.free;
      this.free = this.next[slot]!;
      this.freeCount--;
      return slot;
    }
    if (this.used === this.capacity) {
      if (this.capacity === this.max) return this.evictTail();
      this.grow();
    }
    return this.used++;
  }

  // Frees the least recently used slot for immediate reuse.
  private evictTail(): number {
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

  private remove(key: string, slot: number): void {
    delete this.index[key];
    this.count--;
    const { prev, next } = this;
    const before = prev[slot]!;
    const after = next[slot]!;
    if (slot === this.head) this.head = after;
    else next[before] = after;
    if (slot === this.tail) this.tail = before;
    else prev[after] = before;
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    if (this.sizes !== undefined) {
      this.totalSize -= this.sizes[slot]!;
      this.sizes[slot] = 0;
    }
    next[slot] = this.free;
    this.free = slot;
    this.freeCount++;
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

  // Makes room for twice as many slots (up to max), or the first slots after a full clear; the
  // arrays grow in place.
  private grow(): void {
    this.capacity = Math.min(this.max, Math.max(INITIAL_CAPACITY, this.capacity * 2));
    this.keys.length = this.values.length = this.capacity;
  }
}
