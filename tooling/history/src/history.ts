import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** ms since the epoch on the one clock every process of a run shares (fractional). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * One cache operation of a worker, from its call to its answer. `version` is the row version it
 * read (`null`: a miss) or wrote; `ok: false` when it threw (`error`).
 */
export interface Op {
  type: 'op';
  worker: number;
  f: 'read' | 'getOrSet' | 'write' | 'delete' | 'tags';
  key: string;
  /** How a write told the cache: `set` the new value, `delete` the key, invalidate its `tags`. */
  variant?: 'set' | 'delete' | 'tags';
  start: number;
  end: number;
  ok: boolean;
  version?: number | null;
  /** What a write's cache call resolved (`false`: the store reported a failure). */
  acknowledged?: boolean;
  /** What a getOrSet of a lock-holder cycle answered: the id of the load that produced it. */
  load?: string;
  error?: string;
}

/** A loader run: which lease of the shared lock it ran under (`null`: none was held). */
export interface Load {
  type: 'load';
  worker: number;
  key: string;
  id: string;
  lease: string | null;
  start: number;
  end?: number;
  version?: number;
}

/** A lease of the shared lock this worker acquired (`at`), and whether a renewal found it lost. */
export interface Lease {
  type: 'lease';
  worker: number;
  key: string;
  lease: string;
  at: number;
  lost?: boolean;
}

/**
 * The bus of a worker is back after a disconnection: it replayed the `replayed` messages it
 * missed, or (without `replayed`) it could not tell what it missed and dropped its L1.
 */
export interface Reconnect {
  type: 'reconnect';
  worker: number;
  at: number;
  replayed?: number;
}

/**
 * A worker's store lost Redis (`up: false`: its client closed, or its circuit breaker opened)
 * or has it again (`up: true`: the client is ready, or the breaker closed). While cut off, the
 * worker's writes cannot reach the others: their invalidations go out once it is back.
 */
export interface Link {
  type: 'link';
  worker: number;
  at: number;
  up: boolean;
}

/** A bus message that evicted keys from a worker's L1 (to tell when an invalidation arrived). */
export interface Received {
  type: 'received';
  worker: number;
  at: number;
  message: { type: string; keys?: string[]; tags?: string[] };
}

/** The bus of a worker failed (`subscribe`, `publish`): a multilevel store `error` of tier -1. */
export interface BusError {
  type: 'bus-error';
  worker: number;
  at: number;
  operation: string;
  error: string;
}

/** Heap used after a full GC, sampled by a worker. */
export interface Heap {
  type: 'heap';
  worker: number;
  at: number;
  bytes: number;
}

/** A write-behind `write()` of `value` (which grows with every write of a key). */
export interface BehindWrite {
  type: 'wb';
  worker: number;
  key: string;
  value: number;
  start: number;
  end: number;
  ok: boolean;
}

/** The kinds of fault the nemesis injects. */
export type NemesisKind =
  | 'redis-kill'
  | 'redis-pause'
  | 'pubsub-kill'
  | 'worker-kill'
  | 'lock-holder-kill'
  | 'pg-pause';

/** Every kind, in the order the nemesis injects them in a round. */
export const NEMESIS_KINDS: readonly NemesisKind[] = [
  'redis-kill',
  'redis-pause',
  'pubsub-kill',
  'worker-kill',
  'lock-holder-kill',
  'pg-pause',
];

/** Kinds that cut workers off from Redis or from the bus. */
export const BUS_FAULTS: readonly NemesisKind[] = ['redis-kill', 'redis-pause', 'pubsub-kill'];

/** Kinds that cut the workers' stores off from Redis itself, not only from the bus. */
export const REDIS_FAULTS: readonly NemesisKind[] = ['redis-kill', 'redis-pause'];

/**
 * One fault: from `start` (injected) to `end` (healed). `worker` is the worker killed; for
 * `lock-holder-kill`, `key` is the key whose loader it was running.
 */
export interface Nemesis {
  type: 'nemesis';
  kind: NemesisKind;
  start: number;
  end: number;
  worker?: number;
  key?: string;
}

/** A row of the write-behind table at the end of a run. */
export interface FinalRow {
  type: 'row';
  key: string;
  value: number;
}

/** Anything a history holds. */
export type Entry =
  | Op
  | Load
  | Lease
  | Reconnect
  | Link
  | Received
  | BusError
  | Heap
  | BehindWrite
  | Nemesis
  | FinalRow;

/** Reads every `*.jsonl` file of `dir` into one history (a torn last line of a killed worker is skipped). */
export function readHistory(dir: string): Entry[] {
  const entries: Entry[] = [];
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        entries.push(JSON.parse(line) as Entry);
      } catch {
        // The process was killed in the middle of writing this line.
      }
    }
  }
  return entries;
}
