import type { WriteBehindEntry } from './queue.js';

/** What failed, as reported by an `error` event. */
export type WriteBehindOperation = 'take' | 'ack' | 'dead-letter' | 'cache' | 'close';

/** The events of a {@link WriteBehind}, and the payload each listener receives. */
export interface WriteBehindEvents<V = unknown> {
  /** A write (or delete) was accepted: the cache is updated and it is in the queue. */
  queued: { key: string; depth: number };
  /**
   * A batch is done. `rows` were written (dead-lettered rows excluded); the batch held `writes`
   * queued writes (more than its rows when writes of one key were coalesced); `duration` is ms
   * from taking the batch off the queue to its acknowledgement, retries included.
   */
  flushed: { rows: number; writes: number; duration: number };
  /** The writer threw; the same rows are written again after `delay` ms. */
  retried: { rows: number; attempt: number; delay: number; error: unknown };
  /**
   * Rows kept failing after every retry (a failing batch is split until the rows that fail are
   * alone), or a write the queue could not decode (`entry.undecodable`, `error` why); they were
   * handed to the `deadLetter` handler and will not be written again.
   */
  deadLettered: { entries: WriteBehindEntry<V>[]; error: unknown };
  /**
   * Writes not written because this process had already committed a newer write of their key
   * (a greater `sequence`): writes claimed from a dead consumer that arrive late.
   */
  superseded: { entries: WriteBehindEntry<V>[] };
  /**
   * The cache did not take a write (`cache.set` resolved `false` or rejected), or the queue did
   * not (`write()` rejected), `error` why; so the key was deleted from the cache: a read loads it
   * again instead of seeing a value the database does not get.
   */
  uncached: { key: string; error: unknown };
  /**
   * `close()` gave up after `closeTimeout` with `writes` still in a memory queue: they are lost.
   * (A durable queue keeps what is left for the next process, and makes no such event.)
   */
  abandoned: { writes: number };
  /**
   * The queue, the cache or the dead-letter handler failed. Nothing is lost: a failed `take` is
   * tried again at the next flush, and entries whose `ack` failed are delivered again.
   */
  error: { error: unknown; operation: WriteBehindOperation };
}

/** A listener of one {@link WriteBehindEvents} event. */
export type WriteBehindListener<V, E extends keyof WriteBehindEvents<V>> = (
  payload: WriteBehindEvents<V>[E],
) => void;

/** Counters kept since the {@link WriteBehind} was created; `stats()` returns a snapshot. */
export interface WriteBehindStats {
  /** Writes accepted by `write()`, and deletes by `delete()`. */
  queued: number;
  /** Rows the writer committed. */
  flushed: number;
  /** Writes not written because a later write of the same key was in the same batch. */
  coalesced: number;
  /** Successful calls of the writer. */
  batches: number;
  /** Failed writer calls that were tried again. */
  retried: number;
  /** Rows handed to the dead-letter handler (each also a `deadLettered` event). */
  deadLettered: number;
  /** Writes not written because a newer write of their key was committed (each also a `superseded` event). */
  superseded: number;
  /** Keys deleted from the cache because it or the queue did not take their write (each also an `uncached` event). */
  uncached: number;
  /** Writes left in a memory queue when `close()` gave up after `closeTimeout` (each batch also an `abandoned` event). */
  abandoned: number;
  /** Failures of the queue, the cache or the dead-letter handler (each also an `error` event). */
  errors: number;
  /** Writes in the queue right now, not yet in the database. */
  depth: number;
  /** Time from taking a batch off the queue to acknowledging it, in ms. */
  flushLatency: { last: number; mean: number; max: number };
}
