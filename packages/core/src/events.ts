import type { LatencyPercentiles } from './latencyWindow.js';
import type { CacheEntry } from './types.js';

/** Why a stale value was served instead of a fresh one. */
export type StaleReason = 'loader-error' | 'soft-timeout' | 'hard-timeout' | 'backoff';

/** The operation that failed, as reported by an `error` event. */
export type CacheOperation =
  | 'get'
  | 'set'
  | 'delete'
  | 'clear'
  | 'loader'
  | 'lock'
  | 'serialize'
  | 'invalidate';

/** The events a cache emits, and the payload each listener receives. */
export interface CacheEvents {
  /** A fresh value was found. */
  hit: { key: string; store: string };
  /** Nothing fresh was found (a stale value may still be served later). */
  miss: { key: string; store: string };
  /** A stale value was served; `reason` says why. */
  stale: { key: string; store: string; reason: StaleReason; entry: CacheEntry };
  /** A value was stored. */
  set: { key: string; store: string; entry: CacheEntry };
  /** A key was deleted, or expired (`soft`: invalidated with `{ mode: 'expire' }`). */
  delete: { key: string; store: string; soft?: boolean };
  /** Every key, or every key under `prefix`, was removed (or expired, when `soft`). */
  clear: { prefix: string | undefined; store: string; soft?: boolean };
  /** `tags` were invalidated (softly when `soft`), or the keys matching `pattern` deleted. */
  invalidate: { tags?: string[]; pattern?: string; store: string; soft?: boolean };
  /**
   * Something failed without failing the call: a store read or write, a lock, a loader whose
   * error was answered with a stale value. `dropped` is true when a write was lost.
   */
  error: {
    error: unknown;
    operation: CacheOperation;
    key?: string;
    store: string;
    dropped: boolean;
  };
}

/** A listener of one {@link CacheEvents} event. */
export type CacheListener<E extends keyof CacheEvents> = (payload: CacheEvents[E]) => void;

/** Counters kept since the cache was created; `stats()` returns a snapshot. */
export interface CacheStats {
  /** Fresh values served from the store. */
  hits: number;
  /** Lookups that found nothing fresh. */
  misses: number;
  /** Stale values served under grace. */
  staleHits: number;
  /** Values written to the store. */
  sets: number;
  /** Keys deleted. */
  deletes: number;
  /** Loader calls started. */
  loads: number;
  /** Loader calls that threw or timed out. */
  loadErrors: number;
  /** Store, lock or serializer failures (each also an `error` event). */
  errors: number;
  /** Writes lost because the store failed (each also an `error` event with `dropped: true`). */
  droppedWrites: number;
  /** Loader calls running right now. */
  inflight: number;
  /** Store writes of loaded values still running in the background (see `Cache.flush`). */
  pendingWrites: number;
  /**
   * Tags whose last invalidation this process holds in memory (over a store that relays
   * invalidations; at most 10,000, see `tagRecheck`).
   */
  knownTags: number;
  /** `hits / (hits + misses)`; stale serves count as misses; `NaN` before the first lookup. */
  hitRatio: number;
  /** Percentiles of the latest loader calls, in ms (from the start of the load, lock wait included, to its result). */
  loadLatency: LatencyPercentiles;
  /**
   * Over a store with tiers (`multilevel`): per tier, its store's name, the reads it answered
   * with a fresh entry, its share of all reads (`hitRatio`) and its failures. Empty otherwise.
   */
  tiers: TierStats[];
}

/** The figures of one tier in {@link CacheStats}. */
export interface TierStats {
  /** The tier's store name. */
  store: string;
  /** Reads this tier answered with a fresh entry. */
  hits: number;
  /** This tier's hits over all reads of the store (hits of every tier plus misses). */
  hitRatio: number;
  /** Failures of this tier. */
  errors: number;
}
