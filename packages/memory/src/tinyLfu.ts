import { FrequencySketch, hashOf } from './frequencySketch.js';
import { Slots } from './slots.js';
import { WindowClimber } from './windowClimber.js';

// The regions, each a list whose head is the slot `max + region`, past the last entry slot.
// The numbers used on a hit are enum members rather than module constants: the build writes
// each use of a member as its value, where V8 loads a module's constant from the module's
// context, and checks it, at each use (tooling/bench README, session 16).
enum Region {
  Window = 0,
  Probation = 1,
  Protected = 2,
}
// Shares of the capacity: the window starts at 1%, and protected takes 80% of the rest (the main
// region).
const WINDOW_SHARE = 0.01;
const PROTECTED_SHARE = 0.8;
// The sketch halves its counters after this many times the capacity in sightings.
// 60 rather than 10 lets the sketch tell apart keys near the boundary of what fits: on Zipf 0.8
// over 1M keys at 1% capacity, 40 gained 1.0 point of hit ratio over 10, and 60 another 0.3
// (0.4 with 10% scans, whose one-time keys count as sightings too), at the cost of forgetting
// more slowly (tooling/bench README, table (j) and what follows it).
const SAMPLE_FACTOR = 60;
// The window is resized after each sample of this many times the entries in requests.
const CLIMB_FACTOR = 10;
// A slot's state byte: its region in the high bits, and in the low four its sightings not yet
// added to the sketch (at most 15, where a counter of the sketch stops).
enum State {
  RegionShift = 4,
  Uncounted = 15,
}
// Keys put back from protected on probation at most per write (see TinyLfu.demote).
const DEMOTIONS = 4;

/**
 * A map from string keys to values that each carry an expiry time, evicting by W-TinyLFU: a new
 * key enters a small LRU window; the window's least recently used key then enters the main
 * region only if it has been seen more often lately than the main region's least recently used
 * key, which it would replace. How often keys were seen is estimated by a
 * {@link FrequencySketch}, counting hits and writes, ghosts of evicted keys included. A hit
 * counts its sighting in the slot's own state byte (up to 15), which is added to the sketch when
 * the key's count is compared or the key leaves, or when a budget of sightings runs out (a walk
 * over every slot, after which the sketch ages if due): a hit then touches the memory an LRU
 * hit does, plus that byte, where counting it in the sketch at once cost a cache miss on every
 * hit (and hashing work). Counts added later, after other keys' sightings that share counters,
 * can leave estimates slightly off from counting each sighting at once (the sketch's
 * conservative update depends on the order); the hit ratios measured in tooling/bench, table
 * (j), moved by at most 0.2 points. The main
 * region is a segmented LRU: a key enters on probation and is protected once read again, so a
 * burst of keys read once (a scan) never flushes what is read often.
 *
 * Sizes are shares of the capacity (of `maxSize` when there is one, else of the entry count):
 * the window starts at 1% and is then sized by a {@link WindowClimber} after each sample of
 * 10 × `max` requests (larger while recency pays, smaller while frequency does); protected takes
 * 80% of the rest.
 */
export class TinyLfu<V> extends Slots<V> {
  declare private readonly limit: number;
  declare private readonly hashes: Int32Array;
  declare private readonly states: Uint8Array;
  declare private readonly sketch: FrequencySketch;
  declare private readonly climber: WindowClimber;
  declare private readonly capacityWeight: number;
  declare private readonly period: number;
  // Starts at -0, not 0, and so does each sample: a field first given a small integer is kept as
  // a tagged integer, which V8 untags, checks for overflow and tags again on each hit's `++`;
  // -0 is no small integer, so the field holds a double, incremented in place (hot get: 281 to
  // 266 machine instructions, tooling/bench README, session 16).
  declare private hits: number;
  // Sightings that may still be kept uncounted before the sketch is brought up to date.
  declare private budget: number;
  declare private misses: number;
  declare private windowMax: number;
  declare private protectedMax: number;
  declare private windowWeight: number;
  declare private protectedWeight: number;

  /** `max` entries at most; with `maxSize`, sizes given to {@link Slots.set} sum to at most it. */
  constructor(max: number, maxSize?: number) {
    // One slot more than the entries held: a new key takes it until the policy evicts one.
    super(max + 1, maxSize, max + 1 + 3);
    this.limit = max;
    this.hashes = new Int32Array(max + 1);
    this.states = new Uint8Array(max + 1);
    this.sketch = new FrequencySketch(max, SAMPLE_FACTOR * max);
    const capacity = maxSize ?? max;
    this.climber = new WindowClimber(capacity, maxSize === undefined ? 1 : 0);
    this.capacityWeight = capacity;
    this.period = CLIMB_FACTOR * max;
    this.hits = -0;
    this.budget = 0;
    this.misses = 0;
    this.windowMax = 0;
    this.protectedMax = 0;
    this.resizeWindow(
      maxSize === undefined ? Math.max(1, Math.floor(max * WINDOW_SHARE)) : capacity * WINDOW_SHARE,
    );
    this.windowWeight = 0;
    this.protectedWeight = 0;
    this.reset();
  }

  /** Returns the value and counts a sighting of the key, or `undefined` when missing or expired. */
  get(key: string): V | undefined {
    const slot = this.index[key];
    if (slot === undefined) {
      this.misses++;
      return undefined;
    }
    if (this.expired(slot)) {
      this.misses++;
      this.remove(key, slot);
      return undefined;
    }
    this.hits++;
    this.touch(slot, this.sight(slot));
    return this.values[slot];
  }

  // A sighting of a held key: kept with the slot, and added to the sketch when its count is
  // needed (an admission, an eviction) or the budget runs out (tallyAll), so that a hit does not
  // touch the sketch. Returns the slot's region.
  private sight(slot: number): number {
    const state = this.states[slot]!;
    if ((state & State.Uncounted) !== State.Uncounted) {
      this.states[slot] = state + 1;
      if (--this.budget <= 0) this.tallyAll();
    }
    return state >>> State.RegionShift;
  }

  // Adds the slot's uncounted sightings to the sketch.
  private tally(slot: number): void {
    const state = this.states[slot]!;
    const uncounted = state & State.Uncounted;
    if (uncounted === 0) return;
    this.states[slot] = state - uncounted;
    this.sketch.add(this.hashes[slot]!, uncounted);
  }

  // Counts every held key's sightings, then ages the sketch if due. Each sighting counts at most
  // once in the sketch's sample, so no halving is missed while the budget lasts; a budget of at
  // least `limit` sightings keeps this walk over the slots rare (a halving may then come up to
  // `limit` sightings late, against a sample of SAMPLE_FACTOR × `limit`).
  private tallyAll(): void {
    for (let slot = 0; slot < this.used; slot++) this.tally(slot);
    this.sketch.ageIfDue();
    this.budget = Math.max(this.sketch.remaining, this.limit);
  }

  /**
   * A new key enters the window, and counts a sighting; {@link TinyLfu.settle} may then evict it,
   * when it is seen less often than the entry it would replace.
   */
  protected insert(key: string, size: number): number {
    const slot = this.take();
    this.claim(key, slot);
    this.hashes[slot] = hashOf(key);
    this.states[slot] = Region.Window << State.RegionShift;
    this.sight(slot);
    this.linkFirst(slot, this.max + Region.Window);
    this.weigh(slot, this.weightOf(slot));
    this.resize(slot, size);
    if (this.hits + this.misses >= this.period) this.climb();
    return slot;
  }

  protected replace(slot: number, size: number): void {
    const region = this.sight(slot);
    this.resize(slot, size);
    this.touch(slot, region);
  }

  protected remove(key: string, slot: number): void {
    // The sketch remembers a key gone: seen again, it is let in as often as it was seen.
    this.tally(slot);
    this.unlink(slot);
    this.weigh(slot, -this.weightOf(slot));
    this.release(key, slot);
  }

  protected reset(): void {
    for (let region = Region.Window; region <= Region.Protected; region++) {
      const head = this.max + region;
      this.next[head] = this.prev[head] = head;
    }
    this.windowWeight = this.protectedWeight = 0;
    this.sketch.clear();
    this.states.fill(0);
    this.budget = this.sketch.remaining;
  }

  // The end of a sample of requests: the window moves by the climber's step.
  private climb(): void {
    this.resizeWindow(this.climber.next(this.windowMax, this.hits, this.hits + this.misses));
    this.hits = -0;
    this.misses = 0;
  }

  // Gives the window `size` and the rest to the main region (its excess leaves at the next evict).
  private resizeWindow(size: number): void {
    this.windowMax = this.climber.clamp(size);
    this.protectedMax = (this.capacityWeight - this.windowMax) * PROTECTED_SHARE;
  }

  // A hit: the key becomes the most recent of its region, and one on probation is protected.
  private touch(slot: number, region: number): void {
    if (region === Region.Probation) {
      this.promote(slot);
    } else if (this.next[this.max + region] !== slot) {
      this.unlink(slot);
      this.linkFirst(slot, this.max + region);
    }
  }

  // Moves a slot on probation to protected. Protected may then hold more than its share: its
  // least recent keys go back on probation at the next write (settle), as Caffeine demotes in
  // its maintenance rather than on the read. The weight is kept here rather than through move(),
  // which costs more instructions (tooling/bench README, session 14).
  private promote(slot: number): void {
    this.relink(slot, Region.Protected);
    this.protectedWeight += this.weightOf(slot);
  }

  // Puts protected's least recent keys back on probation while it holds more than its share, at
  // most DEMOTIONS of them, so that a write after a long run of reads does not move thousands of
  // keys at once. They go to the front of probation, so the victims taken from its back stay the
  // same as if they had been demoted on the reads, unless reads protect keys faster than writes
  // put them back; the hit ratios of table (j) of tooling/bench did not move (0.2 points at most).
  private demote(): void {
    const head = this.max + Region.Protected;
    for (let i = 0; i < DEMOTIONS && this.protectedWeight > this.protectedMax; i++) {
      const oldest = this.prev[head]!;
      if (oldest >= this.max) return;
      this.protectedWeight -= this.weightOf(oldest);
      this.relink(oldest, Region.Probation);
    }
  }

  // Brings the whole within its limits: the window's overflow goes on probation, each key kept
  // only if seen more often than the ones it displaces; then least recent keys go.
  protected settle(): void {
    this.demote();
    while (this.windowWeight > this.windowMax) {
      const candidate = this.prev[this.max + Region.Window]!;
      this.move(candidate, Region.Probation);
      this.admit(candidate);
    }
    while (this.count > this.limit || this.totalSize > this.maxSize) {
      const victim = this.least();
      this.remove(this.keys[victim]!, victim);
      this.evicted();
    }
  }

  // The candidate, just put on probation, displaces the least recent keys of the main region
  // while it is seen more often than each of them, and is evicted as soon as it is not.
  private admit(candidate: number): void {
    const sketch = this.sketch;
    while (this.count > this.limit || this.totalSize > this.maxSize) {
      let victim = this.prev[this.max + Region.Probation]!;
      if (victim === candidate) victim = this.prev[this.max + Region.Protected]!;
      if (victim >= this.max) {
        this.remove(this.keys[candidate]!, candidate);
        this.evicted();
        return;
      }
      this.tally(candidate);
      this.tally(victim);
      if (sketch.frequency(this.hashes[candidate]!) <= sketch.frequency(this.hashes[victim]!)) {
        this.remove(this.keys[candidate]!, candidate);
        this.evicted();
        // The victim goes to the back of the queue, so the next candidate meets another one: a
        // key whose estimate is inflated by collisions with hot keys, and that is never read,
        // would otherwise turn away every candidate for good.
        if (this.regionOf(victim) === Region.Probation) this.move(victim, Region.Probation);
        return;
      }
      this.remove(this.keys[victim]!, victim);
      this.evicted();
    }
  }

  // The least recent key of probation, else of protected, else of the window.
  private least(): number {
    const probation = this.prev[this.max + Region.Probation]!;
    if (probation < this.max) return probation;
    const protectedSlot = this.prev[this.max + Region.Protected]!;
    return protectedSlot < this.max ? protectedSlot : this.prev[this.max + Region.Window]!;
  }

  // Moves the slot first into `region`, keeping the regions' weights.
  private move(slot: number, region: number): void {
    const weight = this.weightOf(slot);
    this.weigh(slot, -weight);
    this.relink(slot, region);
    this.weigh(slot, weight);
  }

  // Moves the slot first into `region`; the regions' weights are the caller's to keep.
  private relink(slot: number, region: number): void {
    this.unlink(slot);
    this.states[slot] = (region << State.RegionShift) | (this.states[slot]! & State.Uncounted);
    this.linkFirst(slot, this.max + region);
  }

  // Gives the slot its new size (with maxSize), keeping the totals of the store and its region.
  protected override resize(slot: number, size: number): void {
    const sizes = this.sizes;
    if (sizes === undefined) return;
    this.weigh(slot, size - sizes[slot]!);
    super.resize(slot, size);
  }

  private weigh(slot: number, delta: number): void {
    const region = this.regionOf(slot);
    if (region === Region.Window) this.windowWeight += delta;
    else if (region === Region.Protected) this.protectedWeight += delta;
  }

  private weightOf(slot: number): number {
    return this.sizes === undefined ? 1 : this.sizes[slot]!;
  }

  private regionOf(slot: number): number {
    return this.states[slot]! >>> State.RegionShift;
  }

  private linkFirst(slot: number, head: number): void {
    const first = this.next[head]!;
    this.next[slot] = first;
    this.prev[slot] = head;
    this.prev[first] = slot;
    this.next[head] = slot;
  }

  private unlink(slot: number): void {
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    this.next[before] = after;
    this.prev[after] = before;
  }
}
