/**
 * The hit ratio of Belady's MIN on `requests` with room for `capacity` keys: on a miss, of the
 * cached keys and the requested one, the one next requested farthest in the future is left out
 * (the requested key too, when that is it). No policy, online or not, hits more often.
 */
export function beladyHitRatio(requests: Int32Array, keySpace: number, capacity: number): number {
  const length = requests.length;
  // When each request's key is requested next (`length` for never).
  const nextUse = new Int32Array(length);
  const seen = new Int32Array(keySpace).fill(length);
  for (let i = length - 1; i >= 0; i--) {
    const key = requests[i]!;
    nextUse[i] = seen[key]!;
    seen[key] = i;
  }
  // A binary max-heap of the cached keys by next use; `at` is each key's place in it, or -1.
  const heapKey = new Int32Array(capacity);
  const heapNext = new Int32Array(capacity);
  const at = new Int32Array(keySpace).fill(-1);
  let size = 0;
  const place = (index: number, key: number, next: number) => {
    heapKey[index] = key;
    heapNext[index] = next;
    at[key] = index;
  };
  const up = (index: number, key: number, next: number) => {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heapNext[parent]! >= next) break;
      place(index, heapKey[parent]!, heapNext[parent]!);
      index = parent;
    }
    place(index, key, next);
  };
  const down = (index: number, key: number, next: number) => {
    for (;;) {
      let child = 2 * index + 1;
      if (child >= size) break;
      if (child + 1 < size && heapNext[child + 1]! > heapNext[child]!) child++;
      if (heapNext[child]! <= next) break;
      place(index, heapKey[child]!, heapNext[child]!);
      index = child;
    }
    place(index, key, next);
  };
  let hits = 0;
  for (let i = 0; i < length; i++) {
    const key = requests[i]!;
    const next = nextUse[i]!;
    const index = at[key]!;
    if (index >= 0) {
      hits++;
      up(index, key, next); // its next use only moves later
    } else if (size < capacity) {
      up(size++, key, next);
    } else if (heapNext[0]! > next) {
      at[heapKey[0]!] = -1;
      down(0, key, next);
    }
  }
  return hits / length;
}
