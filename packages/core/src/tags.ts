import { coarseNow } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import type { CacheEntry, CacheStore, InvalidationMessage } from './types.js';

/** The most tags whose last invalidation a process keeps in memory. */
const KNOWN_TAGS = 10_000;

/**
 * When a tag was last invalidated (`at`, 0 for never) and last invalidated hard (`hard`, at most
 * `at`): an entry created before `hard` is void, one created before `at` only expired.
 */
interface Stamps {
  readonly at: number;
  readonly hard: number;
}

/** What a process knows of a tag record, until when it trusts it. */
interface Known extends Stamps {
  until: number;
}

const NEVER: Stamps = { at: 0, hard: 0 };

/**
 * What the tags of an entry make of it: `'valid'`; `'expired'` when a tag was invalidated softly
 * since it was created (a grace fallback only); `'void'` when one was invalidated hard (never served).
 */
export type TagVerdict = 'valid' | 'expired' | 'void';

/**
 * The record of a tag invalidated at `at`: its `value` is the stamp of the last invalidation,
 * whatever its mode, so a process that knows no soft invalidation reads every record as a hard
 * one. After a soft one, `createdAt` holds the stamp of the last hard invalidation (`hard`, 0
 * for none), read from the record before.
 */
export function tagRecord(at: number, hard: number | undefined, expiresAt: number): CacheEntry {
  if (hard === undefined) return { value: at, expiresAt };
  return { value: Math.max(at, hard), expiresAt, createdAt: hard };
}

/** The stamps a tag record holds (see {@link tagRecord}); a missing record: never invalidated. */
export function recordStamps(record: CacheEntry | undefined): Stamps {
  if (record === undefined) return NEVER;
  const at = record.value as number;
  return { at, hard: Math.min(at, record.createdAt ?? at) };
}

/** Keys under this prefix belong to the cache itself (tag records); user keys may not use it. */
export const RESERVED_PREFIX = '__cache:';
const TAG_PREFIX = `${RESERVED_PREFIX}tag:`;

let last = 0;

/**
 * Wall-clock ms that strictly increase within the process (nudged by a microsecond when the
 * clock has not moved), so a load that starts after an invalidation in the same millisecond is
 * still known to be newer. Across processes it relies on synchronized clocks: the stamps of a
 * store that has {@link CacheStore.stamp} are used instead.
 */
export function stamp(): number {
  const now = Date.now();
  last = now > last ? now : last + 0.001;
  return last;
}

/** The store key of the record holding when `tag` was last invalidated. */
export function tagKey(tag: string): string {
  return TAG_PREFIX + tag;
}

/** The tag whose record is stored at `key`, or `undefined` for another key. */
export function tagOf(key: string): string | undefined {
  return key.startsWith(TAG_PREFIX) ? key.slice(TAG_PREFIX.length) : undefined;
}

/** Throws unless `tags` is an array of non-empty strings; `internal` allows the reserved `__` names. */
export function checkTags(tags: unknown, internal = false): asserts tags is string[] {
  if (
    !Array.isArray(tags) ||
    tags.some((tag) => typeof tag !== 'string' || tag === '' || (!internal && tag.startsWith('__')))
  ) {
    throw new InvalidArgumentError(
      'tags',
      'expected an array of non-empty strings not starting with "__"',
    );
  }
}

/** Reads a tag record: the entry, or `undefined`; throws or rejects when the store fails. */
export type TagRecordReader = (
  key: string,
) => CacheEntry | undefined | Promise<CacheEntry | undefined>;

/**
 * When each tag was last invalidated, read from the tag records in the store, and the stamps
 * that order invalidations against loads. With a store that stamps ({@link CacheStore.stamp},
 * shared by every process), an invalidation takes a stamp from the store, and a load or write
 * the newest stamp this process has seen (from its own invalidations and the records it read):
 * never above the store's, so an invalidation that comes after a load carries a greater stamp
 * whatever the clocks say; lagging behind it costs at most a needless miss, after which the
 * record read has taught the newer stamp. Otherwise both use {@link stamp}. When the store
 * relays invalidations from other processes (`CacheStore.subscribe`, such as a multilevel store
 * with a bus), answers are kept in process, so a tagged hit costs no store read: dropped
 * whenever a message may concern them, and trusted for `recheck` ms at most, so that a lost
 * message delays an invalidation by that long, not forever; at most {@link KNOWN_TAGS} of them,
 * the one read from the store longest ago dropped first. Otherwise every check reads the store.
 */
export class TagRecords {
  // One per store object, so that every cache over it shares what it knows and learns.
  static readonly #byStore = new WeakMap<CacheStore, TagRecords>();

  /**
   * The records of `store`, read with `read` (through its serializing view, if any); `relay` is
   * the view that relays invalidations from other processes, if it does.
   */
  static of(
    store: CacheStore,
    relay: CacheStore,
    read: TagRecordReader,
    recheck: number,
  ): TagRecords {
    let records = TagRecords.#byStore.get(store);
    if (records === undefined) {
      const shared = typeof store.stamp === 'function' ? () => store.stamp!() : undefined;
      records = new TagRecords(relay, read, recheck, shared);
      TagRecords.#byStore.set(store, records);
    }
    return records;
  }

  readonly #read: TagRecordReader;
  readonly #recheck: number;
  // The store's stamps, if it has them, and the newest this process has seen.
  readonly #shared: (() => Promise<number>) | undefined;
  #seen = 0;
  // Tag → when it was last invalidated (0: never), for stores that relay invalidations; in the
  // order last read or learnt, oldest first.
  readonly #known: Map<string, Known> | undefined;
  // The last invalidation queued by {@link TagRecords.inTurn}, settled or not.
  #turn: Promise<unknown> = Promise.resolve();
  // Bumped by every change, so a read that was under way meanwhile is not kept.
  #generation = 0;
  /**
   * Bumped whenever records may have left the store (a clear of everything, here or relayed):
   * an entry read before that can no longer be checked, since a missing record reads as "never
   * invalidated". Compare it before and after a read with {@link TagRecords.check}.
   */
  cleared = 0;

  private constructor(
    store: CacheStore,
    read: TagRecordReader,
    recheck: number,
    shared: (() => Promise<number>) | undefined,
  ) {
    this.#read = read;
    this.#recheck = recheck;
    this.#shared = shared;
    // Learn where the store's stamps stand, so that a write made here soon is not taken for
    // older than a tag invalidation made long ago.
    shared?.().then(
      (at) => {
        if (at > this.#seen) this.#seen = at;
      },
      () => {},
    );
    this.#known = typeof store.subscribe === 'function' ? new Map() : undefined;
    store.subscribe?.((message) => this.forget(message));
  }

  /** The stamp of a load or write that starts now: an invalidation from now on stamps above it. */
  loadStamp(): number {
    return this.#shared === undefined ? stamp() : this.#seen;
  }

  /**
   * The stamp of an invalidation made now: the store's, or the wall clock's when the store has
   * none. Rejects when the store fails: no stamp is made up then, since a clock that runs ahead
   * would order later invalidations before loads they must void.
   */
  invalidationStamp(): number | Promise<number> {
    if (this.#shared === undefined) return stamp();
    return this.#shared().then((at) => {
      if (at > this.#seen) this.#seen = at;
      return at;
    });
  }

  /**
   * What the entry's tags make of it (see {@link TagVerdict}): an answer when known or read
   * synchronously, a promise otherwise. Throws or rejects when the store fails.
   */
  check(entry: CacheEntry): TagVerdict | Promise<TagVerdict> {
    const createdAt = entry.createdAt ?? 0;
    let verdict: TagVerdict = 'valid';
    let pending: Promise<Stamps>[] | undefined;
    try {
      for (const tag of entry.tags!) {
        const stamps = this.#stamps(tag);
        if (stamps instanceof Promise) {
          pending ??= [];
          pending.push(stamps);
        } else if (stamps.at > createdAt) {
          if (stamps.hard > createdAt) {
            ignore(pending);
            return 'void';
          }
          verdict = 'expired';
        }
      }
    } catch (error) {
      ignore(pending);
      throw error;
    }
    if (pending === undefined) return verdict;
    return Promise.all(pending).then((all) => {
      for (const { at, hard } of all) {
        if (hard > createdAt) return 'void';
        if (at > createdAt) verdict = 'expired';
      }
      return verdict;
    });
  }

  /**
   * The stamps of the last hard invalidation of each tag, read from the store itself (not from
   * what this process keeps): what a soft invalidation's records carry on. Rejects when the
   * store fails.
   */
  async hardStamps(tags: string[]): Promise<number[]> {
    return Promise.all(tags.map(async (tag) => recordStamps(await this.#read(tagKey(tag))).hard));
  }

  /**
   * Runs `invalidation` (taking a stamp and writing records) after the ones queued before it
   * have settled: records are written in the order of their stamps, so that a soft
   * invalidation, which reads the records before writing its own where the store does not merge
   * them, never writes over a newer one made by this process.
   */
  inTurn<T>(invalidation: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(invalidation);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  /**
   * Records invalidations made by this process at `at`: hard ones, or soft ones after the hard
   * ones at `hards` (one per tag, see {@link TagRecords.hardStamps}). Over a store that merges
   * records, see {@link TagRecords.merging} instead.
   */
  invalidated(tags: string[], at: number, hards?: number[]): void {
    this.#generation++;
    if (at > this.#seen) this.#seen = at;
    if (this.#known === undefined) return;
    for (let i = 0; i < tags.length; i++) {
      this.#remember(tags[i]!, recordStamps(tagRecord(at, hards?.[i], 0)));
    }
  }

  /**
   * Records an invalidation made by this process at `at` (hard unless `soft`) over a store that
   * merges records (see `CacheStore.mergeTagRecords`): until the merge lands, and if it fails
   * until the store is read again (after `recheck`, or a message), each tag is held in process
   * as invalidated at least then, over what was known of it, so that this process serves nothing
   * it voided meanwhile. Once it landed, see {@link TagRecords.merged}.
   */
  merging(tags: string[], at: number, soft: boolean): void {
    this.#generation++;
    if (at > this.#seen) this.#seen = at;
    if (this.#known === undefined) return;
    for (const tag of tags) {
      const known = this.#known.get(tag);
      this.#remember(tag, {
        at: Math.max(at, known?.at ?? 0),
        hard: Math.max(soft ? 0 : at, known?.hard ?? 0),
      });
    }
  }

  /**
   * The merge of this process's invalidation of `tags` landed (see {@link TagRecords.merging}):
   * the store's records may be newer than what this process holds (another process's
   * invalidation, merged in), so they are read from it again, and no read under way is kept.
   */
  merged(tags: string[]): void {
    this.#generation++;
    if (this.#known === undefined) return;
    for (const tag of tags) this.#known.delete(tag);
  }

  /** How many tags this process holds the record of (at most 10,000). */
  get size(): number {
    return this.#known?.size ?? 0;
  }

  /** Drops what an invalidation from another process may have changed. */
  forget(message: InvalidationMessage): void {
    this.#generation++;
    // A clear of everything (`''` too) may have taken the records from the store.
    if (message.type === 'clear' && !message.prefix) this.cleared++;
    if (this.#known === undefined) return;
    if (message.type !== 'delete') {
      this.#known.clear();
      return;
    }
    for (const key of message.keys ?? []) {
      if (key.startsWith(TAG_PREFIX)) this.#known.delete(key.slice(TAG_PREFIX.length));
    }
  }

  /** Drops everything known (the records were removed from the store). */
  clear(): void {
    this.#generation++;
    this.cleared++;
    this.#known?.clear();
  }

  #stamps(tag: string): Stamps | Promise<Stamps> {
    const known = this.#known?.get(tag);
    if (known !== undefined && known.until > coarseNow()) return known;
    const generation = this.#generation;
    const found = this.#read(tagKey(tag));
    if (!(found instanceof Promise)) return this.#keep(tag, found, generation);
    return found.then((record) => this.#keep(tag, record, generation));
  }

  #keep(tag: string, record: CacheEntry | undefined, generation: number): Stamps {
    const stamps = recordStamps(record);
    if (stamps.at > this.#seen) this.#seen = stamps.at;
    if (this.#known !== undefined && generation === this.#generation) this.#remember(tag, stamps);
    return stamps;
  }

  #remember(tag: string, { at, hard }: Stamps): void {
    const known = this.#known!;
    known.delete(tag);
    known.set(tag, { at, hard, until: coarseNow() + this.#recheck });
    if (known.size > KNOWN_TAGS) known.delete(known.keys().next().value!);
  }
}

// Reads answered by nobody (the entry was decided without them) must not reject unhandled.
function ignore(pending: Promise<Stamps>[] | undefined): void {
  if (pending !== undefined) for (const read of pending) read.catch(() => {});
}
