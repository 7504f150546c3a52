import { channels, timeIsFaked } from '@cache/core';

const INITIAL_CAPACITY = 1024;
// Expiry times are kept as ms after `base` in an Int32Array, and `base` moves forward every
// REBASE_AFTER ms (about 12 days). An entry that never expires holds NEVER; one that expires
// further than LATER (about 24 days) away holds LATER, which no reading reaches before the next
// rebase, and its true expiry is kept aside (`later`) and brought in range at each rebase.
export const FAR = 0x7fff_ffff;
const NEVER = FAR;
const LATER = FAR - 1;
const REBASE_AFTER = 2 ** 30;
// A hit compares expiry with a clock reading taken at most about RESOLUTION ms of event-loop time
// ago: a timer then marks it STALE, which sends the next hit to read the clock again (REARM ms
// without that timer firing means it was lost, as with fake timers).
const RESOLUTION = 1;
const STALE = FAR;
const REARM = 1000;
/** The `Date` this module loaded with: another one in its place means time is faked. */
const SystemDate = Date;

// Whether time is faked (core's one answer, shared with its clock), or the `Date` is not the one
// this module loaded with. Then every expiry check reads the clock, and a reading is never left
// to a timer that may never fire.
function fakeTimers(): boolean {
  return Date !== SystemDate || timeIsFaked();
}

/**
 * Entries in numbered slots, each with an expiry time, and the clock they are checked against:
 * what the eviction policies ({@link Lru}, {@link TinyLfu}) share. Parallel arrays hold each
 * slot's key, value, links and expiry, so a hit allocates nothing; how the links order the slots
 * is the policy's. Removed slots are kept on a free list threaded through `next`.
 *
 * Measured in `tooling/bench`, a hit on a large store is bounded by how many cache misses the CPU
 * overlaps, so every instruction on it counts:
 * - fields are TypeScript `declare`d and assigned once in the constructor: a class field (a
 *   `#private` one too) is first defined as `undefined`, after which V8 reloads it on every hit;
 * - the fields holding the structure are never reassigned, so V8 loads them once: the typed
 *   arrays are allocated for every slot up front (pages nobody writes take no memory), the
 *   key and value arrays grow in place, and `clear` empties the index rather than replacing it;
 * - a hit compares expiry with a clock reading kept on the instance as a small integer, and
 *   reads the clock only when the entry looks expired by it (as every entry does once a timer
 *   has marked the reading old). Counting hits to bound the reading's age cost 5% to 10% of a
 *   hit; the reading is bounded by event-loop time instead, so within one long synchronous run
 *   (or a chain of microtasks) an entry can be served up to that run's length past its expiry,
 *   never dropped early.
 */
export abstract class Slots<V> {
  /** How many slots there are at most. */
  declare protected readonly max: number;
  declare protected readonly maxSize: number;
  declare protected readonly index: Record<string, number>;
  declare protected readonly keys: (string | undefined)[];
  declare protected readonly values: (V | undefined)[];
  declare protected readonly prev: Uint32Array;
  declare protected readonly next: Uint32Array;
  declare protected readonly expiry: Int32Array;
  declare protected readonly sizes: Float64Array | undefined;
  declare protected capacity: number;
  declare protected count: number;
  declare protected used: number;
  declare protected free: number;
  declare protected freeCount: number;
  declare protected totalSize: number;
  declare protected base: number;
  /** Entries evicted to make room (for `maxEntries` or `maxSize`). */
  declare evictions: number;
  // The true expiry (ms epoch) of each slot holding LATER.
  declare protected readonly later: Map<number, number>;
  // The clock reading, in ms after `base`, or STALE when the next hit must read the clock.
  declare protected now: number;
  declare protected armedAt: number;
  declare protected armedWith: typeof setTimeout | undefined;
  // SystemDate, held by the instance: a field never reassigned is a constant to V8 where the
  // instance is, so a hit's test for a faked `Date` can compile to nothing, where the module's
  // own binding is loaded at each hit.
  declare protected readonly systemDate: DateConstructor;

  /**
   * `max` slots; with `maxSize`, a size per slot. `links` is the length of `prev` and `next`: a
   * policy may keep list heads past the last slot.
   */
  constructor(max: number, maxSize: number | undefined, links: number) {
    this.max = max;
    this.maxSize = maxSize ?? Number.POSITIVE_INFINITY;
    this.index = Object.create(null);
    this.keys = [];
    this.values = [];
    this.prev = new Uint32Array(links);
    this.next = new Uint32Array(links);
    this.expiry = new Int32Array(max);
    this.sizes = maxSize === undefined ? undefined : new Float64Array(max);
    this.capacity = 0;
    this.count = 0;
    this.used = 0;
    this.free = 0;
    this.freeCount = 0;
    this.totalSize = 0;
    this.base = Date.now() - 1;
    this.evictions = 0;
    this.later = new Map();
    this.now = STALE;
    this.armedAt = Number.NEGATIVE_INFINITY;
    this.armedWith = undefined;
    this.systemDate = SystemDate;
    this.grow();
  }

  /** How many entries are held, expired ones not yet reclaimed included. */
  get size(): number {
    return this.count;
  }

  /** The sum of the sizes of the entries held (0 without `maxSize`). */
  get bytes(): number {
    return this.totalSize;
  }

  /** An entry left to make room: counted, and published on `cache:evict` when subscribed. */
  protected evicted(): void {
    this.evictions++;
    if (channels.evict.hasSubscribers) channels.evict.publish({ store: 'memory', count: 1 });
  }

  /** Whether an entry kept until `until` (ms epoch) would be live now. */
  live(until: number): boolean {
    const now = this.current();
    return until - this.base > now;
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
    this.later.clear();
    this.reset();
    this.grow();
  }

  /** Removes every key `matches` accepts; returns how many of them had not expired. */
  deleteMatching(matches: (key: string) => boolean): number {
    const now = this.time();
    let live = 0;
    const keys = this.keys;
    // Slot by slot, so that removal is safe.
    for (let slot = 0; slot < this.used; slot++) {
      const key = keys[slot];
      if (key === undefined || !matches(key)) continue;
      if (this.expiry[slot]! > now) live++;
      this.remove(key, slot);
    }
    return live;
  }

  /**
   * Rewrites in place the value of each live key that `matches` accepts (or of `key` alone):
   * `rewrite` returns the new value, kept in the same slot with the same expiry, size and place
   * in the policy's order, or `undefined` to remove the key. Returns how many live keys it saw.
   */
  rewrite(key: string | ((key: string) => boolean), rewrite: (value: V) => V | undefined): number {
    if (typeof key === 'string') {
      const slot = this.index[key];
      if (slot === undefined) return 0;
      return this.rewriteSlot(key, slot, rewrite) ? 1 : 0;
    }
    let seen = 0;
    const keys = this.keys;
    // Slot by slot, so that removal is safe.
    for (let slot = 0; slot < this.used; slot++) {
      const held = keys[slot];
      if (held !== undefined && key(held) && this.rewriteSlot(held, slot, rewrite)) seen++;
    }
    return seen;
  }

  // Whether the slot was live (an expired one is removed).
  private rewriteSlot(key: string, slot: number, rewrite: (value: V) => V | undefined): boolean {
    if (this.expired(slot)) {
      this.remove(key, slot);
      return false;
    }
    const value = rewrite(this.values[slot] as V);
    if (value === undefined) this.remove(key, slot);
    else this.values[slot] = value;
    return true;
  }

  /**
   * Stores the value until `until` (ms epoch), `size` counting towards `maxSize`, then evicts as
   * the policy decides (a policy may evict this very entry). Returns `false`, storing nothing,
   * when `until` is not after now (or is NaN).
   */
  set(key: string, value: V, until: number, size: number): boolean {
    const offset = this.offsetOf(until);
    if (offset < 0) return false;
    let slot = this.index[key];
    if (slot === undefined) {
      slot = this.insert(key, size);
    } else {
      this.replace(slot, size);
    }
    this.values[slot] = value;
    this.expireAt(slot, offset);
    this.settle();
    return true;
  }

  /** Gives a new key a slot in the policy's order, and its `size`; returns the slot. */
  protected abstract insert(key: string, size: number): number;

  /** Marks the key in `slot` as written again, now of `size`. */
  protected abstract replace(slot: number, size: number): void;

  /** Evicts what the policy picks until the entries fit `max` and `maxSize`. */
  protected abstract settle(): void;

  /** Unlinks the slot from the policy's order, then {@link Slots.release}s it. */
  protected abstract remove(key: string, slot: number): void;

  /** Forgets the policy's order: every slot has just been emptied. */
  protected abstract reset(): void;

  /** Whether the entry in `slot` has expired; the caller has found it by its key. */
  protected expired(slot: number): boolean {
    // `now` never runs ahead of the clock, so only an entry that looks expired by it, or a reading
    // that cannot be trusted (the test of current(), minus its STALE check, which the expiry
    // comparison covers: STALE is the largest expiry), needs the clock. The expiry is read again
    // after the clock, which can rebase every expiry.
    return (
      (this.expiry[slot]! <= this.now ||
        Date !== this.systemDate ||
        setTimeout !== this.armedWith) &&
      this.time() >= this.expiry[slot]!
    );
  }

  /** `until` (ms epoch) as ms after `base`, or -1 when it is not after now (or is NaN). */
  protected offsetOf(until: number): number {
    const offset = until - this.base;
    return offset > this.current() ? offset : -1;
  }

  /** Gives the slot to the key. */
  protected claim(key: string, slot: number): void {
    this.keys[slot] = key;
    this.index[key] = slot;
    this.count++;
  }

  /** Sets the slot's expiry from `offset`, ms after `base`. */
  protected expireAt(slot: number, offset: number): void {
    if (this.later.size > 0) this.later.delete(slot);
    if (offset < LATER) this.expiry[slot] = Math.ceil(offset);
    else if (offset === Number.POSITIVE_INFINITY) this.expiry[slot] = NEVER;
    else {
      this.expiry[slot] = LATER;
      this.later.set(slot, offset + this.base);
    }
  }

  /** Gives the slot its size (with `maxSize`), keeping the total. */
  protected resize(slot: number, size: number): void {
    const sizes = this.sizes;
    if (sizes === undefined) return;
    this.totalSize += size - sizes[slot]!;
    sizes[slot] = size;
  }

  /** Drops the key and its value from the slot and puts the slot on the free list. */
  protected release(key: string, slot: number): void {
    if (this.later.size > 0) this.later.delete(slot);
    delete this.index[key];
    this.count--;
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    if (this.sizes !== undefined) {
      this.totalSize -= this.sizes[slot]!;
      this.sizes[slot] = 0;
    }
    this.next[slot] = this.free;
    this.free = slot;
    this.freeCount++;
  }

  /** A free slot, or -1 when every one of the `max` slots is taken. */
  protected take(): number {
    if (this.freeCount > 0) {
      const slot = this.free;
      this.free = this.next[slot]!;
      this.freeCount--;
      return slot;
    }
    if (this.used === this.capacity) {
      if (this.capacity === this.max) return -1;
      this.grow();
    }
    return this.used++;
  }

  // The time in ms after `base`: the last reading while it can be trusted, else read now.
  protected current(): number {
    return this.now === STALE || Date !== this.systemDate || setTimeout !== this.armedWith
      ? this.time()
      : this.now;
  }

  // Reads the clock: the current time in ms after `base`. It is kept in `now` for the expiry
  // checks of later hits, with a timer that marks it STALE after RESOLUTION ms (hits stop
  // trusting it when `setTimeout` is no longer the one that timer was armed with); under fake
  // timers it is not kept, so time set by a test is seen at once.
  protected time(): number {
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
      const at = expiry[slot]!;
      if (at < LATER) expiry[slot] = Math.max(0, at - shift);
    }
    for (const [slot, until] of this.later) {
      const offset = until - base;
      if (offset >= LATER) continue;
      expiry[slot] = Math.max(0, Math.ceil(offset));
      this.later.delete(slot);
    }
    this.base = base;
    this.now = STALE;
  }

  // Makes room for twice as many slots (up to max), or the first slots after a full clear; the
  // arrays grow in place.
  private grow(): void {
    this.capacity = Math.min(this.max, Math.max(INITIAL_CAPACITY, this.capacity * 2));
    this.keys.length = this.values.length = this.capacity;
  }
}
