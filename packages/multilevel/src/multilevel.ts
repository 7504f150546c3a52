import { EventEmitter } from 'node:events';
import {
  type CacheEntry,
  type CacheStore,
  channels,
  coarseNow,
  type Duration,
  freshness,
  globToRegExp,
  graceEnd,
  InvalidArgumentError,
  type InvalidationBus,
  type InvalidationMessage,
  isTraced,
  parseDuration,
  RESERVED_PREFIX,
  type Serializer,
  StoreError,
  type StoreWriteOptions,
  traced,
  traceStoreCall,
} from '@cache/core';
import { Outbox } from './outbox.js';
import { RecentWrites } from './recentWrites.js';
import { Repairs } from './repairs.js';

/** Options of {@link multilevel}. Durations are ms or strings such as `'1m'`. */
export interface MultilevelOptions {
  /** The tiers, fastest first: usually `[memoryStore(), redisStore()]`. Any {@link CacheStore} fits, including another multilevel store. */
  tiers: CacheStore[];
  /**
   * Carries invalidations between processes (`redisBus` from `@cache/redis`): a set, delete or
   * clear here evicts the key from every other process's local tiers. Like the tiers, it
   * belongs to the store from then on: `close()` closes it. Give each store its own bus (a bus
   * ignores its own messages, so two stores on one bus would not invalidate each other).
   */
  bus?: InvalidationBus;
  /**
   * Cap on how long an entry lives in the first tier, whatever its TTL (the seed's short L1
   * TTL under a long L2 TTL). Without a bus, this bounds how long another process's write can
   * go unseen. @default no cap
   */
  l1Ttl?: Duration;
  /** Caps per tier, by index (`undefined`: no cap); `ttls[0]` wins over `l1Ttl`. */
  ttls?: (Duration | undefined)[];
  /**
   * How many of the first tiers are private to this process; bus messages evict from those,
   * and a bus that missed messages it cannot replay clears them. @default 1
   */
  localTiers?: number;
  /**
   * Cap on how long the local tiers keep the cache's own records (keys with `__cache:`, such as
   * tag records): with `createCache`'s `tagRecheck`, it bounds how long a lost bus message can
   * hide another process's tag invalidation. No cap when every tier is local: they hold the
   * only copy. @default '5s'
   */
  recordTtl?: Duration;
}

/** The events of a {@link MultilevelStore}. */
export interface MultilevelEvents {
  /** A tier failed; the operation went on with the other tiers. */
  error: { tier: number; store: string; operation: string; error: unknown };
  /** A message from another process evicted keys from the local tiers. */
  invalidate: { message: InvalidationMessage };
  /** The bus reconnected and may have missed messages it cannot replay, so the local tiers were cleared. */
  distrust: { reason: 'bus-reconnect' };
}

/** Counters of a {@link MultilevelStore}; `hits[i]` counts reads answered by tier `i`. */
export interface MultilevelStats {
  /** Reads answered by each tier with a fresh entry. */
  hits: number[];
  /** Reads no tier had a fresh entry for. */
  misses: number;
  /** Entries copied up into faster tiers after a hit below. */
  backfills: number;
  /** Failures per tier (each also an `error` event). */
  tierErrors: number[];
  /** Messages received from other processes and applied. */
  invalidations: number;
  /**
   * Messages that could not be published (each also an `error` event, tier -1). Each is
   * published again until the bus takes it (see `pendingPublishes`).
   */
  publishFailures: number;
  /** Messages that could not be published yet and wait to be published again. */
  pendingPublishes: number;
  /** Times the local tiers were cleared because the bus reconnected. */
  distrusts: number;
  /**
   * Keys whose write or delete failed on a tier, waiting to be deleted from it again (see
   * "Failures" in the README).
   */
  pendingRepairs: number;
  /** Keys given up because 10,000 were waiting for repair (each also an `error` event). */
  repairsDropped: number;
  /**
   * Keys deleted everywhere again because another process wrote them while this process's
   * write of them was under way or had just landed (see "Consistency" in the README).
   */
  racesRedone: number;
}

interface State {
  readonly bus: InvalidationBus | undefined;
  readonly emitter: EventEmitter;
  readonly stats: MultilevelStats;
  readonly listeners: Set<(message: InvalidationMessage) => void>;
  readonly repairs: Repairs;
  readonly outbox: Outbox;
  // With a bus and shared tiers: this process's recent writes of keys, to redo on a race.
  readonly recent: RecentWrites | undefined;
  // Bumped when another process clears or deletes a pattern, and when a local clear or pattern
  // delete starts and ends: a read under way meanwhile does not copy what it found back into
  // the faster tiers. (Deletes of given keys mark those keys' activity instead.)
  evictions: number;
  // Local clears and pattern deletes in progress: no read copies anything back meanwhile.
  clearing: number;
  // The keys being read below the first tier or written, each with its local writes: a read
  // copies back only a key no write touched while it was under way (see #writing).
  activity: Map<string, Activity>;
  // Keys deleted (or, under 'expire', expired) in this tick, published together as one message
  // per mode at its end.
  deletes: Map<'delete' | 'expire', { keys: string[]; published: Promise<void> }>;
  unsubscribe: (() => void) | undefined;
  closed: boolean;
  removeBusListeners: (() => void) | undefined;
}

/**
 * How long a write to the shared tiers is followed after it landed: another process's write of
 * the key heard meanwhile may have landed before it (see {@link RecentWrites}).
 */
const RACE_WINDOW = 2_000;

/** The first and the longest wait before subscribing to the bus again after a failure. */
const FIRST_SUBSCRIBE_DELAY = 100;
const LAST_SUBSCRIBE_DELAY = 5_000;

/** The result of a tier an operation left alone. */
const SKIPPED = Symbol('skipped');

// A tier's call that threw or rejected, among the answers of #everyTier.
class Failed {
  constructor(readonly error: unknown) {}
}
const failed = (error: unknown) => new Failed(error);
const nothing = () => {};

/** What a read saw when it started: the evictions counter and each key's local writes. */
interface ReadMark {
  evictions: number;
  writes: number[];
}

/** The reads below the first tier and the local writes in progress of one key. */
interface Activity {
  readers: number;
  writers: number;
  /** Bumped when a local write or delete of the key starts and when it ends, and when another process deletes it. */
  writes: number;
}

/**
 * Several tiers as one {@link CacheStore}. Reads go from the first tier down and copy a hit
 * into the faster tiers; writes, deletes and clears reach every tier and are published on the
 * bus. A failing tier is skipped (an `error` event and a counter): a read fails only when every
 * tier failed, a write rejects when any tier failed, so `createCache` reports it. When the first
 * tier answers synchronously with a fresh entry, `get` answers synchronously too: the L1 hit
 * costs no promise, no serialization and no network. Create one with {@link multilevel}.
 */
export class MultilevelStore implements CacheStore {
  readonly name = 'multilevel';
  readonly #tiers: CacheStore[];
  readonly #first: CacheStore;
  readonly #caps: (number | undefined)[];
  readonly #localTiers: number;
  readonly #recordCap: number;
  #state: State;

  /** Prefer {@link multilevel}. */
  constructor(options: MultilevelOptions) {
    const { tiers, bus } = options;
    if (!Array.isArray(tiers) || tiers.length === 0) {
      throw new InvalidArgumentError('tiers', 'expected an array of at least one CacheStore');
    }
    tiers.forEach((tier, i) => {
      if (tier === null || typeof tier !== 'object' || typeof tier.get !== 'function') {
        throw new InvalidArgumentError(`tiers[${i}]`, 'expected a CacheStore');
      }
    });
    if (bus !== undefined && typeof bus?.subscribe !== 'function') {
      throw new InvalidArgumentError('bus', 'expected an InvalidationBus such as redisBus()');
    }
    const localTiers = options.localTiers ?? 1;
    if (!Number.isInteger(localTiers) || localTiers < 0 || localTiers > tiers.length) {
      throw new InvalidArgumentError('localTiers', `expected an integer from 0 to ${tiers.length}`);
    }
    this.#tiers = tiers;
    this.#first = tiers[0]!;
    this.#localTiers = localTiers;
    this.#recordCap = parseDuration(options.recordTtl ?? '5s', 'recordTtl');
    this.#caps = tiers.map((_, i) => {
      const cap = options.ttls?.[i] ?? (i === 0 ? options.l1Ttl : undefined);
      return cap === undefined
        ? undefined
        : parseDuration(cap, i === 0 && options.ttls?.[0] === undefined ? 'l1Ttl' : `ttls[${i}]`);
    });
    this.#state = {
      bus,
      emitter: new EventEmitter(),
      stats: {
        hits: tiers.map(() => 0),
        misses: 0,
        backfills: 0,
        tierErrors: tiers.map(() => 0),
        invalidations: 0,
        publishFailures: 0,
        pendingPublishes: 0,
        distrusts: 0,
        pendingRepairs: 0,
        repairsDropped: 0,
        racesRedone: 0,
      },
      repairs: new Repairs(
        (key, failed) => this.#writing([key], 'repair', (store) => store.delete(key), failed),
        (key) => {
          this.#state.stats.repairsDropped++;
          const error = new StoreError(this.name, `gave up repairing "${key}": too many waiting`);
          this.#emit('error', { tier: -1, store: this.name, operation: 'repair', error });
        },
      ),
      outbox: new Outbox((message) => bus!.publish(message)),
      recent:
        bus !== undefined && tiers.length > localTiers
          ? new RecentWrites(RACE_WINDOW, (key) => this.#redo(key))
          : undefined,
      listeners: new Set(),
      evictions: 0,
      clearing: 0,
      activity: new Map(),
      deletes: new Map(),
      unsubscribe: undefined,
      closed: false,
      removeBusListeners: undefined,
    };
    if (bus !== undefined) {
      this.subscribe = (listener) => this.#relay(listener);
      this.#listen(bus);
    }
    const stamper = tiers.findLast((tier) => typeof tier.stamp === 'function');
    if (stamper !== undefined) this.stamp = () => stamper.stamp!();
    if (tiers.every((tier) => typeof tier.expire === 'function')) {
      this.expire = (keys) => this.#expire(keys);
    }
    if (tiers.every((tier) => typeof tier.expirePrefix === 'function')) {
      this.expirePrefix = (prefix) => this.#expirePrefix(prefix);
    }
    const merging = localTiers < tiers.length ? tiers.slice(localTiers) : tiers;
    if (merging.every((tier) => typeof tier.mergeTagRecords === 'function')) {
      this.mergeTagRecords = (records) => this.#mergeTagRecords(records);
    }
  }

  /** The tiers, fastest first. */
  get tiers(): readonly CacheStore[] {
    return this.#tiers;
  }

  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    let found: ReturnType<CacheStore['get']>;
    try {
      found = this.#first.get(key);
    } catch (error) {
      found = Promise.reject(error);
    }
    // The L1 fast path: answered synchronously with a fresh entry.
    if (found !== undefined && (found as CacheEntry).expiresAt > coarseNow()) {
      this.#state.stats.hits[0]!++;
      if (isTraced(channels.store)) this.#traceTier(0, 'get', key, () => found);
      return found as CacheEntry;
    }
    return this.#getBelow(key, found);
  }

  async getMany(keys: string[]): Promise<(CacheEntry | undefined)[]> {
    const since = this.#readStarts(keys);
    try {
      return await this.#readMany(keys, since);
    } finally {
      this.#readEnds(keys);
    }
  }

  async #readMany(keys: string[], since: ReadMark): Promise<(CacheEntry | undefined)[]> {
    const now = Date.now();
    const result: (CacheEntry | undefined)[] = new Array(keys.length).fill(undefined);
    const stale: (CacheEntry | undefined)[] = new Array(keys.length).fill(undefined);
    let pending = keys.map((_, i) => i);
    let failures = 0;
    for (let tier = 0; tier < this.#tiers.length && pending.length > 0; tier++) {
      const store = this.#tiers[tier]!;
      const wanted = pending.map((i) => keys[i]!);
      let entries: (CacheEntry | undefined)[];
      try {
        entries = await this.#traceTier(tier, 'getMany', undefined, () =>
          store.getMany ? store.getMany(wanted) : Promise.all(wanted.map((k) => store.get(k))),
        );
      } catch (error) {
        failures++;
        this.#fail(tier, 'getMany', error);
        continue;
      }
      const still: number[] = [];
      pending.forEach((index, j) => {
        const entry = entries[j];
        if (entry !== undefined && freshness(entry, now) === 'fresh') {
          result[index] = entry;
          this.#state.stats.hits[tier]!++;
          if (tier > 0) {
            this.#backfill(keys[index]!, entry, tier, since.evictions, since.writes[index]!);
          }
        } else {
          const kept = stale[index];
          if (entry !== undefined && (kept === undefined || graceEnd(entry) > graceEnd(kept))) {
            stale[index] = entry;
          }
          still.push(index);
        }
      });
      pending = still;
    }
    if (failures === this.#tiers.length) throw this.#allFailed('getMany');
    if (failures > 0 && pending.some((index) => keys[index]!.startsWith(RESERVED_PREFIX))) {
      throw this.#unknownRecord('getMany');
    }
    this.#state.stats.misses += pending.length;
    for (const index of pending) result[index] = stale[index];
    return result;
  }

  /**
   * Stores the entry in every tier. A load's write (`options.since`) is handed to each tier, so
   * a shared tier that keeps fences (Redis) can refuse a value older than another process's
   * write.
   */
  set(key: string, entry: CacheEntry, options?: StoreWriteOptions): Promise<void> {
    return this.#writing([key], 'set', (store, tier) =>
      store.set(key, this.#capped(key, entry, tier), options),
    ).then(nothing);
  }

  async setMany(entries: [key: string, entry: CacheEntry][]): Promise<void> {
    const keys = entries.map(([k]) => k);
    await this.#writing(keys, 'setMany', (store, tier) => {
      const capped = entries.map(([k, e]): [string, CacheEntry] => [k, this.#capped(k, e, tier)]);
      return store.setMany
        ? store.setMany(capped)
        : Promise.all(capped.map(([k, e]) => store.set(k, e))).then(() => undefined);
    });
  }

  async delete(key: string): Promise<boolean> {
    const results = await this.#writing([key], 'delete', (store) => store.delete(key));
    return results.some(Boolean);
  }

  async deleteMany(keys: string[]): Promise<number> {
    const counts = await this.#writing(keys, 'deleteMany', (store) =>
      store.deleteMany
        ? store.deleteMany(keys)
        : Promise.all(keys.map((k) => store.delete(k))).then((r) => r.filter(Boolean).length),
    );
    return Math.max(0, ...counts.map(Number));
  }

  /**
   * Soft invalidation of `keys` in every tier (see `CacheStore.expire`), published on the bus
   * so other processes expire their local copies too (a process that does not know soft
   * invalidation deletes them); returns the most any tier held. Present only when every tier
   * has `expire`: a cache deletes instead.
   */
  readonly expire?: (keys: string[]) => Promise<number>;

  /**
   * {@link MultilevelStore.expire} for every key under `prefix` (`''`: all but the cache's own
   * records), in every tier and every process. Present only when every tier has `expirePrefix`.
   */
  readonly expirePrefix?: (prefix: string) => Promise<void>;

  /**
   * Merges tag records (see `CacheStore.mergeTagRecords`) into the shared tiers, and removes
   * them from the local ones, whose copy may be older than what the shared tiers hold (another
   * process's record landed there first): merged into it, the copy would be lower than the
   * shared record, so it is read from there again. With no shared tier, every tier merges. Then
   * published on the bus like any write of the keys. Present only when the tiers that merge all can.
   */
  readonly mergeTagRecords?: (records: [key: string, entry: CacheEntry][]) => Promise<void>;

  async #mergeTagRecords(records: [key: string, entry: CacheEntry][]): Promise<void> {
    const keys = records.map(([key]) => key);
    const shared = this.#localTiers < this.#tiers.length;
    await this.#writing(keys, 'mergeTagRecords', async (store, tier): Promise<void> => {
      if (shared && tier < this.#localTiers) {
        await (store.deleteMany
          ? store.deleteMany(keys)
          : Promise.all(keys.map((key) => store.delete(key))));
        return;
      }
      await store.mergeTagRecords!(
        records.map(([key, entry]): [string, CacheEntry] => [key, this.#capped(key, entry, tier)]),
      );
    });
  }

  async #expire(keys: string[]): Promise<number> {
    const counts = await this.#writing(
      keys,
      'expire',
      (store) => store.expire!(keys),
      undefined,
      'expire',
    );
    return Math.max(0, ...counts.map(Number));
  }

  async #expirePrefix(prefix: string): Promise<void> {
    // Everything is published as a clear without prefix: a process that does not know the mode
    // then clears everything, records included, as the contract of `clear()` says it does.
    const message: InvalidationMessage =
      prefix === '' ? { type: 'clear', mode: 'expire' } : { type: 'clear', prefix, mode: 'expire' };
    await this.#writing(message, 'expirePrefix', (store) => store.expirePrefix!(prefix));
  }

  async clear(prefix?: string): Promise<void> {
    const message: InvalidationMessage =
      prefix === undefined ? { type: 'clear' } : { type: 'clear', prefix };
    await this.#writing(message, 'clear', (store) => store.clear(prefix));
  }

  /**
   * Deletes the keys matching `pattern` from every tier (each must support `deletePattern`) and
   * from other processes' local tiers; returns the most any tier deleted.
   */
  async deletePattern(pattern: string): Promise<number> {
    const counts = await this.#writing({ type: 'pattern', pattern }, 'deletePattern', (store) => {
      if (typeof store.deletePattern !== 'function') {
        throw new StoreError(store.name, 'this store cannot delete by pattern', {
          code: 'E_UNSUPPORTED',
        });
      }
      return store.deletePattern(pattern);
    });
    return Math.max(0, ...counts.map(Number));
  }

  /**
   * With a bus: calls `listener` with every invalidation received from other processes (and a
   * `clear` when the bus reconnects). Absent without a bus, so a cache knows nothing is relayed.
   */
  readonly subscribe?: (listener: (message: InvalidationMessage) => void) => () => void;

  /**
   * The stamps of the slowest tier that has them (the shared one, such as Redis), which order
   * tag invalidations across processes; absent when no tier has them.
   */
  readonly stamp?: () => Promise<number>;

  /** A view whose tiers encode values with `serializer` (tiers that keep live values are shared as they are). */
  withSerializer(serializer: Serializer): MultilevelStore {
    const tiers = this.#tiers.map((tier) => tier.withSerializer?.(serializer) ?? tier);
    const view = new MultilevelStore({
      tiers,
      localTiers: this.#localTiers,
      ttls: this.#caps,
      recordTtl: this.#recordCap,
    });
    view.#state = this.#state;
    if (this.#state.bus !== undefined) {
      (view as { subscribe?: MultilevelStore['subscribe'] }).subscribe = (listener) =>
        view.#relay(listener);
    }
    return view;
  }

  /** Listens to an event; returns a function that removes the listener. */
  on<E extends keyof MultilevelEvents>(
    event: E,
    listener: (payload: MultilevelEvents[E]) => void,
  ): () => void {
    this.#state.emitter.on(event, listener);
    return () => this.#state.emitter.off(event, listener);
  }

  /** A snapshot of the counters. */
  stats(): MultilevelStats {
    const { stats, repairs, outbox } = this.#state;
    return {
      ...stats,
      hits: [...stats.hits],
      tierErrors: [...stats.tierErrors],
      pendingRepairs: repairs.size,
      pendingPublishes: outbox.size,
    };
  }

  /** Closes every tier and the bus, so nothing of the store keeps the process alive. */
  async close(): Promise<void> {
    const { bus, unsubscribe, removeBusListeners, repairs, outbox } = this.#state;
    this.#state.closed = true;
    unsubscribe?.();
    removeBusListeners?.();
    repairs.close();
    outbox.close();
    await Promise.all([...this.#tiers.map((tier) => tier.close?.()), bus?.close?.()]);
  }

  async #getBelow(
    key: string,
    found: ReturnType<CacheStore['get']>,
  ): Promise<CacheEntry | undefined> {
    const now = Date.now();
    const activity = this.#activity(key);
    activity.readers++;
    const { evictions } = this.#state;
    const { writes } = activity;
    try {
      let stale: CacheEntry | undefined;
      let failures = 0;
      for (let tier = 0; tier < this.#tiers.length; tier++) {
        let entry: CacheEntry | undefined;
        try {
          const tierStore = this.#tiers[tier]!;
          const answer = isTraced(channels.store)
            ? this.#traceTier(tier, 'get', key, () => (tier === 0 ? found : tierStore.get(key)))
            : tier === 0
              ? found
              : tierStore.get(key);
          entry = answer instanceof Promise ? await answer : answer;
        } catch (error) {
          failures++;
          this.#fail(tier, 'get', error);
          continue;
        }
        if (tier >= this.#localTiers) this.#sharedAnswered();
        if (entry === undefined) continue;
        if (freshness(entry, now) === 'fresh') {
          this.#state.stats.hits[tier]!++;
          if (tier > 0) this.#backfill(key, entry, tier, evictions, writes);
          return entry;
        }
        // A capped copy in a fast tier ends its grace early: keep the copy with the longest grace.
        if (stale === undefined || graceEnd(entry) > graceEnd(stale)) stale = entry;
      }
      if (failures === this.#tiers.length) throw this.#allFailed('get');
      if (failures > 0 && key.startsWith(RESERVED_PREFIX)) throw this.#unknownRecord('get');
      this.#state.stats.misses++;
      return stale;
    } finally {
      this.#settle(key, activity, -1, 0);
    }
  }

  // Notes the start of reads of `keys` below the first tier; #backfill compares what it returns
  // with the state when the read is done.
  #readStarts(keys: string[]): ReadMark {
    const writes = keys.map((key) => {
      const activity = this.#activity(key);
      activity.readers++;
      return activity.writes;
    });
    return { evictions: this.#state.evictions, writes };
  }

  #readEnds(keys: string[]): void {
    for (const key of keys) this.#settle(key, this.#state.activity.get(key)!, -1, 0);
  }

  #activity(key: string): Activity {
    const { activity } = this.#state;
    let found = activity.get(key);
    if (found === undefined) {
      found = { readers: 0, writers: 0, writes: 0 };
      activity.set(key, found);
    }
    return found;
  }

  // Counts a reader or writer of `key` in or out; forgets the key once nothing is under way.
  #settle(key: string, activity: Activity, readers: number, writers: number): void {
    activity.readers += readers;
    activity.writers += writers;
    if (activity.readers === 0 && activity.writers === 0) this.#state.activity.delete(key);
  }

  // The one write barrier of the local tiers: every local write, delete or clear goes through
  // here. While it runs, and for every read that overlapped it, nothing it covers is copied into
  // a faster tier (a read may have found the old value below). The keys a tier failed to write
  // are repaired later (see Repairs). Then it publishes, even when a tier failed, so that other
  // processes drop their copies whatever happened here. With `only` (a repair), the other tiers
  // are left alone, and it publishes only once the repair landed. Keys are published as deleted,
  // or as expired under `mode` 'expire'.
  async #writing<T>(
    covers: string[] | InvalidationMessage,
    operation: string,
    write: (store: CacheStore, tier: number) => T | Promise<T>,
    only?: Set<number>,
    mode: 'delete' | 'expire' = 'delete',
  ): Promise<(T | undefined)[]> {
    const state = this.#state;
    const keys = Array.isArray(covers) ? covers : [];
    const touched = keys.map((key) => this.#activity(key));
    // Values written to the shared tiers (not deletes, nor the cache's own records) are followed.
    const followed =
      state.recent !== undefined && only === undefined && operation.startsWith('set')
        ? keys.filter((key) => !key.includes(RESERVED_PREFIX))
        : undefined;
    followed && state.recent!.started(followed);
    const everything = !Array.isArray(covers);
    this.#marked(keys, touched, everything, 1);
    let landed = false;
    try {
      const results = await this.#everyTier(operation, write, everything ? undefined : keys, only);
      landed = true;
      return results;
    } finally {
      this.#marked(keys, touched, everything, -1);
      followed && state.recent!.ended(followed);
      // A repair that failed publishes nothing: the next round will.
      if (landed || only === undefined) {
        await (everything ? this.#publish(covers) : this.#publishDeletes(covers, mode));
      }
    }
  }

  // Counts a write of `keys` (`touched`: their activity) in (`writers` 1) or out (-1), each a
  // write more; a write of `everything` (a clear, a pattern) also counts as an eviction.
  #marked(keys: string[], touched: Activity[], everything: boolean, writers: number): void {
    if (everything) {
      this.#state.evictions++;
      this.#state.clearing += writers;
    }
    for (let i = 0; i < keys.length; i++) {
      const activity = touched[i]!;
      activity.writes++;
      this.#settle(keys[i]!, activity, 0, writers);
    }
  }

  // Copies an entry found in tier `from` into the faster tiers, without waiting for them.
  #backfill(
    key: string,
    entry: CacheEntry,
    from: number,
    evictionsSince: number,
    writesSince: number,
  ): void {
    // An eviction or a local write of the key came while this read was under way: what it found
    // may be what was evicted or overwritten.
    const { evictions, clearing, activity } = this.#state;
    if (evictionsSince !== evictions || clearing > 0) return;
    const now = activity.get(key);
    if (now === undefined || now.writers > 0 || now.writes !== writesSince) return;
    for (let tier = 0; tier < from; tier++) {
      this.#state.stats.backfills++;
      try {
        const capped = this.#capped(key, entry, tier);
        const done = this.#traceTier(tier, 'backfill', key, () =>
          this.#tiers[tier]!.set(key, capped),
        );
        if (done instanceof Promise)
          done.catch((error: unknown) => this.#fail(tier, 'backfill', error));
      } catch (error) {
        this.#fail(tier, 'backfill', error);
      }
    }
  }

  // The copy a tier keeps: physically gone after the tier's cap, logically unchanged. The cache's
  // own records live in the local tiers for recordTtl at most: a copy that a lost message left
  // there is read again from the shared tiers soon after. With no shared tier, a local tier
  // holds the only record: gone, it would read as "never invalidated".
  #capped(key: string, entry: CacheEntry, tier: number): CacheEntry {
    let cap = this.#caps[tier];
    const shared = this.#localTiers < this.#tiers.length;
    if (shared && tier < this.#localTiers && key.includes(RESERVED_PREFIX)) {
      cap = Math.min(cap ?? Number.POSITIVE_INFINITY, this.#recordCap);
    }
    if (cap === undefined) return entry;
    const until = Date.now() + cap;
    if ((entry.staleUntil ?? entry.expiresAt) <= until) return entry;
    return { ...entry, staleUntil: until };
  }

  // Runs `operation` on every tier; rejects once all finished if any tier failed.
  // With `keys`, a tier that failed them leaves them to repair, one that wrote them does not;
  // with `only`, the other tiers are skipped (their result is `undefined`). Every tier is called
  // first, in order, then each answer is awaited: a miss's write passes here, so no promise or
  // closure is made per tier beyond the tier's own answer.
  async #everyTier<T>(
    operation: string,
    run: (store: CacheStore, tier: number) => T | Promise<T>,
    keys?: readonly string[],
    only?: Set<number>,
  ): Promise<(T | undefined)[]> {
    const tiers = this.#tiers;
    const key = keys?.length === 1 ? keys[0] : undefined;
    const answers: unknown[] = new Array(tiers.length);
    for (let tier = 0; tier < tiers.length; tier++) {
      if (only !== undefined && !only.has(tier)) {
        answers[tier] = SKIPPED;
        continue;
      }
      try {
        const answer = isTraced(channels.store)
          ? this.#traceTier(tier, operation, key, () => run(tiers[tier]!, tier))
          : run(tiers[tier]!, tier);
        // A rejection is taken at once: one left unhandled while an earlier tier is awaited
        // would be reported (and end the process, by Node's default).
        answers[tier] = answer instanceof Promise ? answer.then(undefined, failed) : answer;
      } catch (error) {
        answers[tier] = new Failed(error);
      }
    }
    for (let tier = 0; tier < tiers.length; tier++) {
      const answer = answers[tier];
      if (answer instanceof Promise) answers[tier] = await answer;
    }
    // Once every tier has answered, as each answer is taken in tier order.
    const { repairs } = this.#state;
    const results: (T | undefined)[] = new Array(tiers.length);
    let firstError: { tier: number; error: unknown } | undefined;
    for (let tier = 0; tier < tiers.length; tier++) {
      const answer = answers[tier];
      if (answer === SKIPPED) continue;
      if (answer instanceof Failed) {
        if (keys !== undefined) repairs.failed(keys, tier);
        this.#fail(tier, operation, answer.error);
        firstError ??= { tier, error: answer.error };
        continue;
      }
      results[tier] = answer as T;
      if (keys !== undefined) repairs.landed(keys, tier);
      if (tier >= this.#localTiers) this.#sharedAnswered();
    }
    if (firstError !== undefined) {
      const { tier, error } = firstError;
      throw new StoreError(
        this.name,
        `${operation} failed on tier ${tier} (${this.#tiers[tier]!.name}): ${messageOf(error)}`,
        { cause: error, code: 'E_TIER_FAILED' },
      );
    }
    return results;
  }

  // Tells other processes to drop (or expire) keys. Deletes of one tick (the writes of many
  // misses answered by one Redis reply, say) go out as one message at its end: one PUBLISH
  // instead of one per key.
  #publishDeletes(keys: string[], mode: 'delete' | 'expire'): Promise<void> {
    const state = this.#state;
    if (state.bus === undefined) return Promise.resolve();
    let batch = state.deletes.get(mode);
    if (batch === undefined) {
      const pending: string[] = [];
      const message: InvalidationMessage =
        mode === 'expire'
          ? { type: 'delete', keys: pending, mode }
          : { type: 'delete', keys: pending };
      batch = {
        keys: pending,
        published: new Promise<void>((resolve) => {
          process.nextTick(() => {
            state.deletes.delete(mode);
            resolve(this.#publish(message));
          });
        }),
      };
      state.deletes.set(mode, batch);
    }
    for (const key of keys) batch.keys.push(key);
    return batch.published;
  }

  async #publish(message: InvalidationMessage): Promise<void> {
    const { bus } = this.#state;
    if (bus === undefined) return;
    try {
      await (isTraced(channels.busPublish)
        ? traced(channels.busPublish, { message }, () => bus.publish(message))
        : bus.publish(message));
    } catch (error) {
      this.#state.stats.publishFailures++;
      this.#state.outbox.add(message);
      this.#emit('error', { tier: -1, store: 'bus', operation: 'publish', error });
    }
  }

  // Subscribes to the bus, again and again with backoff (100 ms to 5 s) while it fails: until
  // then nothing is heard, so once it succeeds after a failure the local tiers are distrusted.
  #subscribe(bus: InvalidationBus, delay: number): void {
    bus
      .subscribe((message) => this.#receive(message))
      .then(
        (unsubscribe) => {
          if (this.#state.closed) return unsubscribe();
          this.#state.unsubscribe = unsubscribe;
          if (delay > FIRST_SUBSCRIBE_DELAY) this.#distrust();
        },
        (error: unknown) => {
          this.#emit('error', { tier: -1, store: 'bus', operation: 'subscribe', error });
          if (this.#state.closed) return;
          const next = Math.min(delay * 2, LAST_SUBSCRIBE_DELAY);
          setTimeout(() => {
            if (!this.#state.closed) this.#subscribe(bus, next);
          }, delay).unref?.();
        },
      );
  }

  #distrust(): void {
    // Messages sent while the bus was away are lost: nothing local can be trusted any more.
    this.#state.stats.distrusts++;
    this.#evictLocal({ type: 'clear' });
    // What was missed may have raced with any recent write here.
    this.#heard({ type: 'clear' });
    for (const listener of this.#state.listeners) listener({ type: 'clear' });
    this.#emit('distrust', { reason: 'bus-reconnect' });
    this.#retryNow();
  }

  #listen(bus: InvalidationBus): void {
    this.#subscribe(bus, FIRST_SUBSCRIBE_DELAY);
    const removeReconnect = bus.on('reconnect', () => this.#distrust());
    // The bus replayed what it missed: Redis is back, so what failed meanwhile can be retried.
    const removeResume = bus.on('resume', () => this.#retryNow());
    this.#state.removeBusListeners = () => {
      removeReconnect();
      removeResume();
    };
  }

  // A shared tier (Redis) answered: repairs and publishes that failed in an outage go out now,
  // not after their backoff (up to 5 s), while other processes serve what they void.
  #sharedAnswered(): void {
    this.#state.repairs.answered();
    this.#state.outbox.answered();
  }

  #retryNow(): void {
    this.#state.repairs.now();
    this.#state.outbox.now();
  }

  #relay(listener: (message: InvalidationMessage) => void): () => void {
    this.#state.listeners.add(listener);
    return () => {
      this.#state.listeners.delete(listener);
    };
  }

  // Another process wrote `key` while this process's write of it was under way or had just
  // landed: this one may have landed last, over the newer value. Delete it everywhere again.
  #redo(key: string): void {
    this.#state.stats.racesRedone++;
    this.delete(key).catch((error: unknown) =>
      this.#emit('error', { tier: -1, store: this.name, operation: 'redo', error }),
    );
  }

  // What another process's message may have raced with among this process's recent writes.
  #heard(message: InvalidationMessage): void {
    const { recent } = this.#state;
    if (recent === undefined) return;
    if (message.type === 'delete') recent.heard(message.keys ?? []);
    else if (message.type === 'clear') {
      const { prefix } = message;
      recent.heardWhere((key) => prefix === undefined || key.startsWith(prefix));
    } else if (message.type === 'pattern' && message.pattern !== undefined) {
      const pattern = globToRegExp(message.pattern);
      recent.heardWhere((key) => pattern.test(key));
    }
  }

  #receive(message: InvalidationMessage & { sentAt?: number }): void {
    this.#state.stats.invalidations++;
    if (channels.busReceive.hasSubscribers) {
      const { sentAt } = message;
      const lag = typeof sentAt === 'number' ? Math.max(0, Date.now() - sentAt) : undefined;
      channels.busReceive.publish(lag === undefined ? { message } : { message, lag });
    }
    this.#heard(message);
    this.#evictLocal(message);
    for (const listener of this.#state.listeners) listener(message);
    this.#emit('invalidate', { message });
  }

  #evictLocal(message: InvalidationMessage): void {
    // A read under way of a key this evicts must not copy back what it found; reads of other
    // keys may (a clear or a pattern may concern any key).
    const { activity } = this.#state;
    if (message.type === 'delete' && message.keys) {
      for (const key of message.keys) {
        const read = activity.get(key);
        if (read !== undefined) read.writes++;
      }
    } else {
      this.#state.evictions++;
    }
    // A soft invalidation leaves grace fallbacks where the tier can keep them, else deletes.
    const soft = message.mode === 'expire';
    for (let tier = 0; tier < this.#localTiers; tier++) {
      const store = this.#tiers[tier]!;
      try {
        let done: unknown;
        if (message.type === 'delete' && message.keys) {
          done =
            soft && store.expire
              ? store.expire(message.keys)
              : store.deleteMany
                ? store.deleteMany(message.keys)
                : Promise.all(message.keys.map((k) => store.delete(k)));
        } else if (message.type === 'clear') {
          done =
            soft && store.expirePrefix
              ? store.expirePrefix(message.prefix ?? '')
              : store.clear(message.prefix);
        } else if (message.type === 'pattern' && message.pattern && store.deletePattern) {
          done = store.deletePattern(message.pattern);
        }
        if (done instanceof Promise)
          done.catch((error: unknown) => this.#fail(tier, 'invalidate', error));
      } catch (error) {
        this.#fail(tier, 'invalidate', error);
      }
    }
  }

  // A call of tier `tier`, published on `cache:store` when anyone listens.
  #traceTier<T>(
    tier: number,
    operation: string,
    key: string | undefined,
    run: () => T | Promise<T>,
  ): T | Promise<T> {
    return traceStoreCall(this.#tiers[tier]!.name, tier, operation, key, run);
  }

  #fail(tier: number, operation: string, error: unknown): void {
    this.#state.stats.tierErrors[tier]!++;
    this.#emit('error', { tier, store: this.#tiers[tier]!.name, operation, error });
  }

  #allFailed(operation: string): StoreError {
    return new StoreError(this.name, `${operation} failed on every tier`, {
      code: 'E_TIER_FAILED',
    });
  }

  // A record of the cache's own (a tag's last invalidation) that no tier holds fresh while a
  // tier failed is unknown, not absent: read as absent, it would say "never invalidated", and an
  // entry a tag invalidation voided would be served again from L1 while Redis is down.
  #unknownRecord(operation: string): StoreError {
    return new StoreError(
      this.name,
      `${operation} of a cache record failed on a tier that may hold it`,
      { code: 'E_TIER_FAILED' },
    );
  }

  #emit<E extends keyof MultilevelEvents>(event: E, payload: MultilevelEvents[E]): void {
    const { emitter } = this.#state;
    if (emitter.listenerCount(event) === 0) return;
    try {
      emitter.emit(event, payload);
    } catch (error) {
      // A throwing listener must not break the store operation that emitted the event, nor go unseen.
      process.emitWarning(error as Error);
    }
  }
}

/**
 * Creates a {@link MultilevelStore}: several tiers, fastest first, as one store.
 *
 * @example
 * const redis = redisStore({ url: 'redis://localhost:6379' });
 * const store = multilevel({
 *   tiers: [memoryStore({ maxEntries: 10_000 }), redis],
 *   bus: redisBus({ client: redis.client }),
 * });
 * const cache = createCache({ store, ttl: '1h' });
 */
export function multilevel(options: MultilevelOptions): MultilevelStore {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', 'expected an object with tiers');
  }
  return new MultilevelStore(options);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
