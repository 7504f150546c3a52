import type { Entry, Heap } from '../history.js';

/** How the heap of one worker changed over a run. */
export interface HeapTrend {
  worker: number;
  samples: number;
  /** The least heap after GC in the first quarter of the samples, and in the last quarter (bytes). */
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
 * The heap trend of each worker that sampled at least 8 times: the least value of each end
 * quarter (after GC, the least sample is the live set; the others include garbage the GC left).
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
    const quarter = Math.floor(samples.length / 4);
    const least = (list: Heap[]) => Math.min(...list.map((sample) => sample.bytes));
    const start = least(samples.slice(0, quarter));
    const end = least(samples.slice(-quarter));
    const grew = end - start > Math.max(options.bytes, start * options.ratio);
    trends.push({ worker, samples: samples.length, start, end, grew });
  }
  return trends.sort((a, b) => a.worker - b.worker);
}
