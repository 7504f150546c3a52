import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Duration,
  defaultSerializer,
  InvalidArgumentError,
  parseDuration,
  SerializationError,
  type Serializer,
} from '@cache/core';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import type { WriteBehindEntry, WriteQueue } from './queue.js';
import { streamSequence } from './sequence.js';

/** Options of {@link redisStreamQueue}. */
export interface RedisStreamQueueOptions {
  /** The stream's key. Give each writer of a key space its own stream: see the README on ordering. */
  stream: string;
  /**
   * An ioredis client (`Redis` or `Cluster`), never quit by the queue; or a `redis://` URL or
   * ioredis options for a client the queue creates and quits on `close()`.
   */
  client: Redis | Cluster | string | RedisOptions;
  /** The consumer group. @default 'write-behind' */
  group?: string;
  /**
   * This process's name in the group. A process restarted under the same name first takes back
   * the writes it had taken and not acknowledged.
   * @default `${hostname}-${pid}-${random}`
   */
  consumer?: string;
  /**
   * How long a write taken by another consumer may stay unacknowledged before this one claims it
   * (`XAUTOCLAIM`), taking over from a consumer that died. A consumer never claims back the
   * writes it is still writing; with several live consumers, keep it above the longest flush
   * (retries included), or a slow consumer's writes are written twice.
   * `0` claims every pending write at once: only for a process that knows the others are dead.
   * @default '30s'
   */
  claimIdle?: Duration;
  /** Encodes values in the stream. @default defaultSerializer (devalue, from @cache/core) */
  serializer?: Serializer;
}

type StreamEntry = [id: string, fields: string[] | null];

interface Pending {
  key: string;
  text: string;
  resolve: (sequence: string) => void;
  reject: (error: unknown) => void;
}

// The most writes one stream entry holds: writes pushed in the same tick share entries.
const WRITES_PER_ENTRY = 100;
// The value of a delete in the stream: no serializer in use encodes a value as nothing.
const DELETED = '';

/**
 * A durable queue on a Redis Stream. `push` resolves once `XADD` succeeded; the flusher reads
 * with a consumer group and acknowledges (`XACK`, then `XDEL`) only after the database commit, so
 * a write is never lost once `write()` resolved: if the process dies, the writes it had taken are
 * claimed by another consumer (`XAUTOCLAIM`) and written again. Writes pushed in the same tick
 * go out in one pipeline and share stream entries (up to 100 a piece), so an entry is the unit
 * that is read, claimed and acknowledged. Create it with {@link redisStreamQueue}.
 */
export class RedisStreamQueue<V = unknown> implements WriteQueue<V> {
  /** Always `'redis'`. */
  readonly name = 'redis';
  /** Always `true`: writes live in Redis. */
  readonly durable = true;
  /** The stream's key. */
  readonly stream: string;
  /** The consumer group. */
  readonly group: string;
  /** This process's consumer name. */
  readonly consumer: string;
  readonly #client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #claimIdle: number;
  readonly #serializer: Serializer;
  #ready: Promise<void> | undefined;
  #buffer: Pending[] = [];
  // Entries in the stream at the last round trip, and how many writes an entry holds on average.
  #length = 0;
  #entries = 1;
  #writes = 1;
  // Writes pushed and not yet in Redis.
  #unsent = 0;
  // Entries read but not yet handed out (a read returns whole entries; a batch takes whole ones).
  #carry: WriteBehindEntry<V>[][] = [];
  // Whether this consumer's own pending writes (from before a restart) are still to be read.
  #ownPending = true;
  // Stream entry IDs this consumer read and has not acknowledged: still being written, so a
  // claim (which also returns this consumer's own idle entries) must not hand them out again.
  readonly #held = new Set<string>();
  #claimCursor = '0-0';
  #nextClaim = 0;

  /** @internal Use {@link redisStreamQueue}. */
  constructor(options: RedisStreamQueueOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', 'expected an object with stream and client');
    }
    const { stream, client, group = 'write-behind', serializer = defaultSerializer } = options;
    for (const [name, value] of [
      ['stream', stream],
      ['group', group],
    ] as const) {
      if (typeof value !== 'string' || value.length === 0) {
        throw new InvalidArgumentError(name, 'expected a non-empty string');
      }
    }
    if (client === null || (typeof client !== 'object' && typeof client !== 'string')) {
      throw new InvalidArgumentError(
        'client',
        'expected an ioredis client, a URL or ioredis options',
      );
    }
    if (typeof serializer?.serialize !== 'function') {
      throw new InvalidArgumentError(
        'serializer',
        'expected an object with serialize and deserialize',
      );
    }
    this.stream = stream;
    this.group = group;
    this.consumer =
      options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (typeof this.consumer !== 'string' || this.consumer.length === 0) {
      throw new InvalidArgumentError('consumer', 'expected a non-empty string');
    }
    this.#claimIdle = parseDuration(options.claimIdle ?? '30s', 'claimIdle');
    this.#serializer = serializer;
    const isClient = typeof client === 'object' && typeof (client as Redis).xadd === 'function';
    this.#owned = !isClient;
    this.#client = isClient
      ? (client as Redis | Cluster)
      : typeof client === 'string'
        ? new Redis(client)
        : new Redis(client as RedisOptions);
  }

  /**
   * Writes in the stream not yet acknowledged: estimated from its length at the last round trip
   * (entries × writes per entry), plus the writes pushed since.
   */
  get depth(): number {
    return Math.round((this.#length * this.#writes) / this.#entries) + this.#unsent;
  }

  /**
   * Appends a write; resolves with its sequence once Redis has it. Writes pushed in the same tick go out in one
   * pipeline of `XADD`s. Throws `SerializationError` for a value the serializer cannot encode, or
   * encodes as an empty string (the stream's mark of a delete).
   */
  push(key: string, value: V): Promise<string> {
    const text = this.#serializer.serialize(value);
    if (text === DELETED) {
      throw new SerializationError(
        'serialize',
        'the serializer encoded the value as an empty string, which the stream keeps for deletes',
      );
    }
    return this.#append(key, text);
  }

  /** Appends a delete of `key` (an empty value in the stream); resolves with its sequence once Redis has it. */
  pushDelete(key: string): Promise<string> {
    return this.#append(key, DELETED);
  }

  #append(key: string, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.#buffer.push({ key, text, resolve, reject }) === 1) {
        process.nextTick(() => this.#send());
      }
      this.#unsent++;
    });
  }

  /**
   * Takes up to `max` writes in whole stream entries (at least one entry): first this consumer's
   * own unacknowledged ones (after a restart), then writes other consumers left pending longer
   * than `claimIdle`, then new ones.
   */
  async take(max: number): Promise<WriteBehindEntry<V>[]> {
    if (this.#carry.length === 0) this.#carry = await this.#fetch(max);
    let count = 0;
    let end = 0;
    while (end < this.#carry.length && (end === 0 || count + this.#carry[end]!.length <= max)) {
      count += this.#carry[end]!.length;
      end++;
    }
    return this.#carry.splice(0, end).flat();
  }

  /**
   * Acknowledges and deletes the writes' stream entries, so they are neither delivered again nor
   * kept. Repeating it after a failure is harmless.
   */
  async ack(writes: WriteBehindEntry<V>[]): Promise<void> {
    const ids = [...new Set(writes.map((write) => write.id.slice(0, write.id.indexOf('/'))))];
    if (ids.length === 0) return;
    const results = await this.#client
      .pipeline()
      .xack(this.stream, this.group, ...ids)
      .xdel(this.stream, ...ids)
      .xlen(this.stream)
      .exec();
    const failure = results?.find(([error]) => error !== null)?.[0];
    if (failure) throw failure;
    for (const id of ids) this.#held.delete(id);
    this.#length = Number(results?.[2]?.[1] ?? this.#length);
  }

  /** Quits the client if the queue created it. */
  async close(): Promise<void> {
    if (this.#owned) await this.#client.quit();
  }

  async #fetch(max: number): Promise<WriteBehindEntry<V>[][]> {
    await this.#init();
    // Read about `max` writes' worth of entries.
    const count = Math.max(1, Math.ceil((max * this.#entries) / this.#writes));
    if (this.#ownPending) {
      const own = await this.#read(count, '0');
      if (own.length > 0) return own;
      this.#ownPending = false;
    }
    if (Date.now() >= this.#nextClaim) {
      const claimed = await this.#claim(count);
      if (claimed.length > 0) return claimed;
    }
    return this.#read(count, '>');
  }

  #init(): Promise<void> {
    this.#ready ??= this.#client.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM').then(
      () => undefined,
      (error: Error) => {
        if (!/BUSYGROUP/.test(error.message)) {
          this.#ready = undefined;
          throw error;
        }
      },
    );
    return this.#ready;
  }

  async #send(): Promise<void> {
    const sending = this.#buffer;
    this.#buffer = [];
    const pipeline = this.#client.pipeline();
    const entries = Math.ceil(sending.length / WRITES_PER_ENTRY);
    for (let start = 0; start < sending.length; start += WRITES_PER_ENTRY) {
      const fields: string[] = [];
      for (const { key, text } of sending.slice(start, start + WRITES_PER_ENTRY)) {
        fields.push(key, text);
      }
      pipeline.xadd(this.stream, '*', ...fields);
    }
    pipeline.xlen(this.stream);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      results = Array.from({ length: entries }, () => [error as Error, null]);
    }
    this.#unsent -= sending.length;
    this.#entries += entries;
    this.#writes += sending.length;
    const length = results?.[entries];
    if (length && length[0] === null) this.#length = Number(length[1]);
    sending.forEach((pending, i) => {
      const [error, id] = results?.[Math.floor(i / WRITES_PER_ENTRY)] ?? [];
      if (error) pending.reject(error);
      else pending.resolve(streamSequence(String(id), i % WRITES_PER_ENTRY));
    });
  }

  async #read(count: number, from: '0' | '>'): Promise<WriteBehindEntry<V>[][]> {
    const reply = (await this.#client.xreadgroup(
      'GROUP',
      this.group,
      this.consumer,
      'COUNT',
      count,
      'STREAMS',
      this.stream,
      from,
    )) as [stream: string, entries: StreamEntry[]][] | Record<string, StreamEntry[]> | null;
    // An ioredis 6 client created with `replyMapping: 'resp3'` answers a map: { [stream]: entries }.
    const entries = Array.isArray(reply) ? reply[0]?.[1] : reply?.[this.stream];
    return this.#decode(entries ?? []);
  }

  async #claim(count: number): Promise<WriteBehindEntry<V>[][]> {
    const [cursor, entries, deleted] = (await this.#client.xautoclaim(
      this.stream,
      this.group,
      this.consumer,
      this.#claimIdle,
      this.#claimCursor,
      'COUNT',
      count,
    )) as [cursor: string, entries: StreamEntry[], deleted?: string[]];
    this.#claimCursor = cursor;
    // A full pass over the pending list is done: look again once more writes could be idle enough.
    if (cursor === '0-0') this.#nextClaim = Date.now() + Math.max(this.#claimIdle, 1000);
    if (deleted && deleted.length > 0) await this.#client.xack(this.stream, this.group, ...deleted);
    return this.#decode(entries.filter(([id]) => !this.#held.has(id)));
  }

  // One array of writes per stream entry, whose fields are key, value, key, value, …
  #decode(entries: StreamEntry[]): WriteBehindEntry<V>[][] {
    const decoded: WriteBehindEntry<V>[][] = [];
    for (const [id, fields] of entries) {
      if (fields === null) continue;
      this.#held.add(id);
      const writes: WriteBehindEntry<V>[] = [];
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const key = fields[i]!;
        const text = fields[i + 1]!;
        const at = { id: `${id}/${i >> 1}`, sequence: streamSequence(id, i >> 1) };
        if (text === DELETED) {
          writes.push({ key, value: undefined as V, ...at, deleted: true });
          continue;
        }
        try {
          writes.push({ key, value: this.#serializer.deserialize(text) as V, ...at });
        } catch (error) {
          // Handed out all the same, to be dead-lettered and acknowledged: left in the stream,
          // it would fail every read and hold back the writes of its entry for good.
          writes.push({ key, value: undefined as V, ...at, undecodable: { text, error } });
        }
      }
      this.#entries++;
      this.#writes += writes.length;
      decoded.push(writes);
    }
    return decoded;
  }
}

/**
 * Creates a durable {@link RedisStreamQueue} for `writeBehind({ queue })`.
 *
 * @example
 * import { redisStreamQueue } from '@cache/write-behind/redis';
 * const queue = redisStreamQueue({ client: redis, stream: 'users:writes' });
 */
export function redisStreamQueue<V = unknown>(
  options: RedisStreamQueueOptions,
): RedisStreamQueue<V> {
  return new RedisStreamQueue<V>(options);
}
