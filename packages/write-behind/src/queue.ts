/** One write as the database writer receives it. */
export interface WriteBehindEntry<V = unknown> {
  /** The key given to `write()`. */
  readonly key: string;
  /** The value given to `write()`: in a batch, the key's last value. */
  readonly value: V;
  /**
   * The queue's id of the write: a counter for the memory queue; for the Redis Streams queue the
   * stream entry ID and the write's place in that entry (`'1718000000000-0/3'`).
   */
  readonly id: string;
  /**
   * The write's place in the queue's order, which only grows: 28 digits, so two compare with `<`
   * and as `numeric` in SQL. A key's newer write has the greater sequence, also across restarts
   * and claims (for the Redis Streams queue it is made of the stream entry ID). Store it with the
   * row and update only rows with a smaller one, so that a write delivered late never goes back
   * in time.
   */
  readonly sequence: string;
  /**
   * Set by a queue that could not decode this write: the text it holds and why it could not be
   * read (`value` is then `undefined`). Write-behind never gives such a write to the writer: it
   * dead-letters it with `error` and acknowledges it, so one bad entry never stalls the queue.
   */
  readonly undecodable?: { readonly text: string; readonly error: unknown };
  /**
   * `true` for a delete queued by `delete()`: `value` is `undefined`, and write-behind passes its
   * key to the `remove` function instead of the writer.
   */
  readonly deleted?: true;
}

/**
 * Where writes wait until they are in the database. A queue hands out writes oldest first and
 * forgets them only once acknowledged, so a write taken but never acknowledged (the process
 * died) can be delivered again. Implement it to keep writes somewhere else.
 */
export interface WriteQueue<V = unknown> {
  /** A short name used in errors, such as `'memory'` or `'redis'`. */
  readonly name: string;
  /** Whether writes survive the process: `false` keeps the process alive until they are flushed. */
  readonly durable: boolean;
  /** Writes queued and not yet acknowledged, as best the queue knows without a round trip. */
  readonly depth: number;
  /**
   * Appends a write; resolves once it is stored (durably, for a durable queue), with its
   * `sequence` when the queue knows it (a queue that returns nothing still works, with a coarser
   * read-your-writes: see `WriteBehind.pending`).
   */
  push(key: string, value: V): void | string | Promise<void | string>;
  /**
   * Appends a delete of `key`, handed out later as an entry with `deleted: true`, in order with
   * the writes; resolves once it is stored. A queue without it cannot take `delete()`.
   */
  pushDelete?(key: string): void | string | Promise<void | string>;
  /** Takes up to `max` writes nobody has taken, oldest first; an empty array when there are none. */
  take(max: number): WriteBehindEntry<V>[] | Promise<WriteBehindEntry<V>[]>;
  /** Forgets writes that are in the database (or were handed to the dead-letter handler). */
  ack(entries: WriteBehindEntry<V>[]): void | Promise<void>;
  /** Releases connections; called by `close()` once the queue is drained. */
  close?(): Promise<void>;
}
