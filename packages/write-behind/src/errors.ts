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
