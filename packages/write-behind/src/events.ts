import type { WriteBehindEntry } from './queue.js';

/** What failed, as reported by an `error` event. */
export type WriteBehindOperation = 'take' | 'ack' | 'dead-letter' | 'cache';

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
  /** Failures of the queue, the cache or the dead-letter handler (each also an `error` event). */
  errors: number;
  /** Writes in the queue right now, not yet in the database. */
  depth: number;
  /** Time from taking a batch off the queue to acknowledging it, in ms. */
  flushLatency: { last: number; mean: number; max: number };
}
