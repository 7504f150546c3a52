// Request traces for the hit-ratio table (j), generated from a fixed seed so every run and every
// contender sees the same requests.

/** A sequence of requests for integer key ids, and what the harness knows about it. */
export interface Trace {
  /** The row label. */
  name: string;
  /** Key ids, in request order. */
  requests: Int32Array;
  /** One more than the largest key id. */
  keySpace: number;
  /**
   * The best hit ratio of any online policy holding `capacity` keys, for traces of independent
   * requests drawn from known probabilities: the `capacity` most probable keys held forever.
   * `undefined` where the requests are not independent draws.
   */
  onlineLimit?: (capacity: number) => number;
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * `length` requests over `keys` keys, key `i` drawn with probability proportional to
 * 1 / (i + 1)^`alpha`; with `scanShare`, that share of the requests are scans instead: bursts of
 * 1,000 keys requested once each and never again (ids from `keys` up), one burst at a random
 * place in each block of 1,000 / `scanShare` requests.
 */
export function zipfTrace(
  keys: number,
  alpha: number,
  length: number,
  seed: number,
  scanShare = 0,
): Trace {
  const cumulative = new Float64Array(keys);
  let total = 0;
  for (let i = 0; i < keys; i++) {
    total += (i + 1) ** -alpha;
    cumulative[i] = total;
  }
  const next = random(seed);
  const draw = () => {
    const target = next() * total;
    let low = 0;
    let high = keys - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  const requests = new Int32Array(length);
  const burst = 1000;
  const block = scanShare > 0 ? Math.round(burst / scanShare) : length;
  let scanned = keys;
  for (let start = 0; start < length; start += block) {
    const end = Math.min(length, start + block);
    const scanAt = scanShare > 0 ? start + Math.floor(next() * (block - burst)) : end;
    for (let i = start; i < end; i++) {
      requests[i] = i >= scanAt && i < scanAt + burst ? scanned++ : draw();
    }
  }
  const scans = scanShare > 0 ? ` with ${Math.round(scanShare * 100)}% scans` : '';
  return {
    name: `Zipf ${alpha.toFixed(1)}${scans}`,
    requests,
    keySpace: scanned,
    onlineLimit: (capacity) =>
      (1 - scanShare) * (cumulative[Math.min(capacity, keys) - 1]! / total),
  };
}

/**
 * `length` requests going round `loop` keys in order (0, 1, …, loop - 1, 0, 1, …), the pattern of
 * a batch job re-reading a table larger than the cache, which an LRU never hits.
 */
export function loopTrace(loop: number, length: number): Trace {
  const requests = new Int32Array(length);
  for (let i = 0; i < length; i++) requests[i] = i % loop;
  return { name: `loop over ${loop / 1000}k keys`, requests, keySpace: loop };
}
