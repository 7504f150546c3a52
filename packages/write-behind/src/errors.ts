import { CacheError } from '@cache/core';

/** `write()` was called while the queue held `maxQueue` writes and `onFull` is `'reject'`. */
export class QueueFullError extends CacheError {
  /** The `maxQueue` limit that was reached. */
  readonly maxQueue: number;

  constructor(maxQueue: number) {
    super(
      'E_QUEUE_FULL',
      `[cache] [write-behind] the queue is full (${maxQueue} writes not yet in the database)`,
    );
    this.maxQueue = maxQueue;
  }
}

/** `write()` was called after `close()`. */
export class WriteBehindClosedError extends CacheError {
  constructor() {
    super('E_CLOSED', '[cache] [write-behind] closed: no more writes are accepted');
  }
}

/**
 * `close()` gave up after `closeTimeout`: the queue still held writes it could not take or write
 * (the queue or the database kept failing). A durable queue keeps them for the next process; a
 * memory queue's are lost, counted in `stats().abandoned` and reported by an `abandoned` event.
 */
export class WriteBehindCloseTimeoutError extends CacheError {
  /** Writes not in the database when `close()` gave up, as the queue counts them. */
  readonly depth: number;

  constructor(timeout: number, depth: number) {
    super(
      'E_CLOSE_TIMEOUT',
      `[cache] [write-behind] close() gave up after ${timeout} ms with ${depth} writes not in the database`,
    );
    this.depth = depth;
  }
}
