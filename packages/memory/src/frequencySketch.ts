// Four rows of 4-bit counters packed eight to a 32-bit word; row i of a key uses one of the two
// counters 2i and 2i + 1 in its word, so rows never share a counter.
const ROWS = 4;
const SEEDS = [0x97cb3127, 0xb7c1d2e5, 0x8f52c4a3, 0x9e3779b1];
const HALF = 0x7777_7777;
const ONES = 0x1111_1111;

/**
 * How often each key was seen lately, estimated in a few bytes per cached entry: a count-min
 * sketch of 4-bit counters (the frequency of a key is the least of its four counters, so it is
 * never under-estimated until the counters are halved). After `sampleSize` increments every
 * counter is halved, so old popularity fades.
 */
export class FrequencySketch {
  declare private readonly table: Uint32Array;
  declare private readonly mask: number;
  declare private readonly sampleSize: number;
  declare private additions: number;

  /** Sized for `entries` cached entries; ages after `sampleSize` increments. */
  constructor(entries: number, sampleSize: number) {
    // 16 counters (two words) per entry or more: half as many cost up to 0.4 points of hit ratio
    // at 1% and 5% capacity on Zipf 0.8 over 1M keys (tooling/bench, table (j), 10M requests).
    const words = 2 ** Math.max(3, Math.ceil(Math.log2(Math.max(1, entries * 2))));
    this.table = new Uint32Array(words);
    this.mask = words - 1;
    this.sampleSize = sampleSize;
    this.additions = 0;
  }

  /** The estimated frequency of `hash`, from 0 to 15. */
  frequency(hash: number): number {
    let least = 15;
    for (let row = 0; row < ROWS; row++) {
      const spread = spreadOf(hash, row);
      const shift = ((row << 1) | (spread >>> 31)) << 2;
      const count = (this.table[spread & this.mask]! >>> shift) & 15;
      if (count < least) least = count;
    }
    return least;
  }

  /** Counts one more sighting of `hash` (counters stop at 15); may halve every counter. */
  increment(hash: number): void {
    const table = this.table;
    let added = false;
    for (let row = 0; row < ROWS; row++) {
      const spread = spreadOf(hash, row);
      const at = spread & this.mask;
      const shift = ((row << 1) | (spread >>> 31)) << 2;
      const word = table[at]!;
      if (((word >>> shift) & 15) !== 15) {
        table[at] = word + (1 << shift);
        added = true;
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.halve();
  }

  /** Forgets every sighting. */
  clear(): void {
    this.table.fill(0);
    this.additions = 0;
  }

  // Halves every counter; counts the odd ones lost to rounding, as each row lost a quarter.
  private halve(): void {
    const table = this.table;
    let odd = 0;
    for (let i = 0; i < table.length; i++) {
      const word = table[i]!;
      odd += bitCount(word & ONES);
      table[i] = (word >>> 1) & HALF;
    }
    this.additions = (this.additions - (odd >>> 2)) >>> 1;
  }
}

/** A 32-bit hash of the string: FNV-1a over its UTF-16 code units, then mixed. */
export function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash;
}

function spreadOf(hash: number, row: number): number {
  let spread = Math.imul(hash ^ SEEDS[row]!, 0x85ebca6b);
  spread ^= spread >>> 13;
  return Math.imul(spread, 0xc2b2ae35) ^ (spread >>> 16);
}

function bitCount(word: number): number {
  let bits = word - ((word >>> 1) & 0x5555_5555);
  bits = (bits & 0x3333_3333) + ((bits >>> 2) & 0x3333_3333);
  return (Math.imul((bits + (bits >>> 4)) & 0x0f0f_0f0f, 0x0101_0101) >>> 24) & 63;
}
