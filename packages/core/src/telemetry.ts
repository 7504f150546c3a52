import { EventEmitter } from 'node:events';
import { publishOutcome } from './channels.js';
import type { CacheEvents, CacheOperation, CacheStats, StaleReason } from './events.js';
import { LatencyWindow } from './latencyWindow.js';
import type { CacheEntry } from './types.js';

const EVENT_NAMES: (keyof CacheEvents)[] = [
  'hit',
  'miss',
  'stale',
  'set',
  'delete',
  'clear',
  'invalidate',
  'error',
];

/**
 * The counters and events of one cache and all its namespaces. `listening` says, per event,
 * whether anyone listens, so the hit path builds no payload nobody reads.
 */
export class Telemetry {
  readonly counters: Omit<
    CacheStats,
    'inflight' | 'pendingWrites' | 'knownTags' | 'hitRatio' | 'loadLatency' | 'tiers'
  > = {
    hits: 0,
    misses: 0,
    staleHits: 0,
    sets: 0,
    deletes: 0,
    loads: 0,
    loadErrors: 0,
    errors: 0,
    droppedWrites: 0,
  };
  readonly listening = Object.fromEntries(EVENT_NAMES.map((name) => [name, false])) as Record<
    keyof CacheEvents,
    boolean
  >;
  /** The durations of the latest loader calls, for `stats().loadLatency`. */
  readonly loadTimes = new LatencyWindow();
  readonly #emitter = new EventEmitter();
  readonly #store: string;

  constructor(store: string) {
    this.#store = store;
  }

  on<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.#emitter.on(event, listener);
    this.listening[event] = true;
  }

  once<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.#emitter.once(event, listener);
    this.listening[event] = true;
  }

  off<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): void {
    this.#emitter.off(event, listener);
    this.listening[event] = this.#emitter.listenerCount(event) > 0;
  }

  /** A fresh value was served. */
  hit(key: string, operation: 'get' | 'getOrSet' = 'get'): void {
    this.counters.hits++;
    if (this.listening.hit) this.emit('hit', { key, store: this.#store });
    publishOutcome(operation, key, this.#store, 'hit');
  }

  /** Nothing fresh was found. */
  miss(key: string, operation: 'get' | 'getOrSet' = 'get'): void {
    this.counters.misses++;
    if (this.listening.miss) this.emit('miss', { key, store: this.#store });
    publishOutcome(operation, key, this.#store, 'miss');
  }

  /** A stale value was served under grace. */
  stale(key: string, reason: StaleReason, entry: CacheEntry): void {
    this.counters.staleHits++;
    if (this.listening.stale) this.emit('stale', { key, store: this.#store, reason, entry });
    publishOutcome('getOrSet', key, this.#store, 'stale', reason);
  }

  /** Something failed without failing the call; `dropped` when a write was lost. */
  error(
    error: unknown,
    operation: CacheOperation,
    key: string | undefined,
    dropped: boolean,
  ): void {
    this.counters.errors++;
    if (dropped) this.counters.droppedWrites++;
    if (this.listening.error) {
      this.emit('error', { error, operation, key, store: this.#store, dropped });
    }
  }

  emit<E extends keyof CacheEvents>(event: E, payload: CacheEvents[E]): void {
    try {
      this.#emitter.emit(event, payload);
    } catch (error) {
      // A throwing listener must not break the cache operation that emitted the event, nor go unseen.
      process.emitWarning(error as Error);
    }
  }
}
