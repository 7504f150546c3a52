import type { Entry, Heap } from '../history.js';

/** How the heap of one worker changed over a run. */
export interface HeapTrend {
  worker: number;
  samples: number;
  /** The least heap after GC in the first quarter of the samples after warm-up, and in the last quarter (bytes). */
  start: number;
  end: number;
  /** Whether `end` exceeds `start` by more than the allowance. */
  grew: boolean;
}

/** Allowance of {@link heapTrends}: growth within `bytes` or `ratio` of the start is flat. */
export interface HeapOptions {
  bytes: number;
  ratio: number;
}

/**
 * The heap trend of each worker that sampled at least 8 times: the least value of the first and
 * of the last quarter of its samples after the first tenth (warm-up). After a full GC the least
 * sample is closest to the live set; the others include garbage allocated meanwhile.
 */
export function heapTrends(entries: readonly Entry[], options: HeapOptions): HeapTrend[] {
  const byWorker = new Map<number, Heap[]>();
  for (const entry of entries) {
    if (entry.type !== 'heap') continue;
    byWorker.set(entry.worker, [...(byWorker.get(entry.worker) ?? []), entry]);
  }
  const trends: HeapTrend[] = [];
  for (const [worker, samples] of byWorker) {
    if (samples.length < 8) continue;
    samples.sort((a, b) => a.at - b.at);
    // The first tenth is warm-up (code compiled, pools and L1 filled), not growth.
    samples.splice(0, Math.floor(samples.length / 10));
    const quarter = Math.floor(samples.length / 4);
    const least = (list: Heap[]) => Math.min(...list.map((sample) => sample.bytes));
    const start = least(samples.slice(0, quarter));
    const end = least(samples.slice(-quarter));
    const grew = end - start > Math.max(options.bytes, start * options.ratio);
    trends.push({ worker, samples: samples.length, start, end, grew });
  }
  return trends.sort((a, b) => a.worker - b.worker);
}
