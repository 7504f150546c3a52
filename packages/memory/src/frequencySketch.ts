// 4-bit counters packed eight to a 32-bit word, in blocks of 16 words (64 bytes, one cache line):
// a key's four counters all lie in one block, one in each quarter of it (a row), so a sighting
// touches one cache line and rows never share a counter.
const ROWS = 4;
const BLOCK_WORDS = 16;
const HALF = 0x7777_7777;
const ONES = 0x1111_1111;
// Words per cached entry (16 counters): half as many cost up to 0.4 points of hit ratio at 1% and
// 5% capacity on Zipf 0.8 over 1M keys (tooling/bench, table (j), 10M requests).
const WORDS_PER_ENTRY = 2;

/**
 * How often each key was seen lately, estimated in a few bytes per cached entry: a count-min
 * sketch of 4-bit counters (the frequency of a key is the least of its four counters, so it is
 * never under-estimated until the counters are halved, counting only the sightings added so far:
 * `TinyLfu` keeps a held key's latest ones aside until it compares). A sighting increments only
 * the counters at that least value (conservative update), which keeps the estimates of rare keys
 * from being inflated by the keys they share counters with. Once `sampleSize` sightings have
 * counted, {@link FrequencySketch.ageIfDue} halves every counter, so old popularity fades.
 */
export class FrequencySketch {
  declare private readonly table: Uint32Array;
  declare private readonly blockMask: number;
  declare private readonly sampleSize: number;
  declare private additions: number;

  /** Sized for `entries` cached entries; ages after `sampleSize` sightings. */
  constructor(entries: number, sampleSize: number) {
    const words = 2 ** Math.max(4, Math.ceil(Math.log2(Math.max(1, entries * WORDS_PER_ENTRY))));
    this.table = new Uint32Array(words);
    this.blockMask = words / BLOCK_WORDS - 1;
    this.sampleSize = sampleSize;
    this.additions = 0;
  }

  /** The estimated frequency of `hash`, from 0 to 15. */
  frequency(hash: number): number {
    const table = this.table;
    const block = (spreadOf(hash) & this.blockMask) * BLOCK_WORDS;
    const picks = pickOf(hash);
    let least = 15;
    for (let row = 0; row < ROWS; row++) {
      const bits = picks >>> (row << 3);
      const count = (table[block + (row << 2) + (bits & 3)]! >>> (bits & 0x1c)) & 15;
      if (count < least) least = count;
    }
    return least;
  }

  /**
   * Counts `count` more sightings of `hash` at once, as `count` increments one after another
   * would: the counters at the least value rise by one per sighting, each stopping at 15, so
   * every counter below the new estimate is raised to it. Never halves (see
   * {@link FrequencySketch.ageIfDue}).
   */
  add(hash: number, count: number): void {
    const least = this.frequency(hash);
    const estimate = Math.min(15, least + count);
    if (estimate === least) return;
    const table = this.table;
    const block = (spreadOf(hash) & this.blockMask) * BLOCK_WORDS;
    const picks = pickOf(hash);
    for (let row = 0; row < ROWS; row++) {
      const bits = picks >>> (row << 3);
      const at = block + (row << 2) + (bits & 3);
      const word = table[at]!;
      const held = (word >>> (bits & 0x1c)) & 15;
      if (held < estimate) table[at] = word + ((estimate - held) << (bits & 0x1c));
    }
    this.additions += estimate - least;
  }

  /** How many more sightings may count before the counters are due to halve. */
  get remaining(): number {
    return this.sampleSize - this.additions;
  }

  /** Halves every counter once `sampleSize` sightings have counted since the last halving. */
  ageIfDue(): void {
    if (this.additions >= this.sampleSize) this.halve();
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

// Which block holds the key's counters.
function spreadOf(hash: number): number {
  let spread = Math.imul(hash ^ 0x97cb3127, 0x85ebca6b);
  spread ^= spread >>> 13;
  return Math.imul(spread, 0xc2b2ae35) ^ (spread >>> 16);
}

// A byte per row: its low 2 bits pick the row's word in the block, the next 3 (as a multiple of
// 4, bits 2 to 4) the counter's shift in that word.
function pickOf(hash: number): number {
  let pick = Math.imul(hash ^ 0xb7c1d2e5, 0x9e3779b1);
  pick ^= pick >>> 15;
  return Math.imul(pick, 0x85ebca6b) ^ (pick >>> 13);
}

function bitCount(word: number): number {
  let bits = word - ((word >>> 1) & 0x5555_5555);
  bits = (bits & 0x3333_3333) + ((bits >>> 2) & 0x3333_3333);
  return (Math.imul((bits + (bits >>> 4)) & 0x0f0f_0f0f, 0x0101_0101) >>> 24) & 63;
}
