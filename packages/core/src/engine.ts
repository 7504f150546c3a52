import { type Clock, systemClock } from './clock.js';
import { expired, freshness } from './entry.js';
import { Flights } from './flights.js';
import { globToRegExp } from './glob.js';
import type { CacheOptions } from './options.js';
import { type CachePolicy, resolvePolicy } from './policy.js';
import { StoreGateway } from './storeGateway.js';
import { TagRetries } from './tagRetries.js';
import { RESERVED_PREFIX, TagRecords, type TagVerdict, tagOf } from './tags.js';
import { Telemetry } from './telemetry.js';
import type { CacheEntry, CacheStore, InvalidationMessage } from './types.js';
import { invalidateTagsOnce } from './writes.js';

/**
 * What a cache and all its namespaces share: the store behind its gateway, the flights (the
 * write barrier), the tag records, counters and events, the policy, the clock, and the store
 * writes running in the background.
 */
export class Engine {
  readonly gateway: StoreGateway;
  readonly flights = new Flights();
  readonly telemetry: Telemetry;
  readonly tagRecords: TagRecords;
  /** Tag invalidations that failed, tried again until they land. */
  readonly tagRetries = new TagRetries((tags, soft) => invalidateTagsOnce(this, tags, soft));
  readonly policy: CachePolicy;
  readonly clock: Clock;
  /**
   * The time new entries count from: `Date.now()` itself behind the default clock, whose reading
   * may be a little old (an entry would then expire early), else the injected clock.
   */
  readonly writeTime: () => number;
  readonly #background = new Set<Promise<unknown>>();
  readonly #waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly #unsubscribe: (() => void) | undefined;

  constructor(options: CacheOptions, store: CacheStore) {
    this.policy = resolvePolicy(options);
    this.clock = options.clock ?? systemClock;
    const { clock } = this;
    this.writeTime = clock === systemClock ? () => Date.now() : () => clock.now();
    this.#waitUntil = options.waitUntil;
    this.telemetry = new Telemetry(store.name);
    this.gateway = new StoreGateway(store, this.policy, this.telemetry, this.tagRetries);
    this.tagRecords = TagRecords.of(
      options.store,
      store,
      (key) => this.gateway.read(key),
      this.policy.tagRecheck,
    );
    // Invalidations from other processes go through the same barrier as this process's own.
    this.#unsubscribe = store.subscribe?.((message) => this.relayed(message));
  }

  /** Voids what an invalidation from another process covers. */
  relayed(message: InvalidationMessage): void {
    const { flights } = this;
    switch (message.type) {
      case 'delete':
        for (const key of message.keys ?? []) {
          // A tag record changed: any load in flight may carry that tag.
          if (key.startsWith(RESERVED_PREFIX)) {
            const tag = tagOf(key);
            if (tag === undefined) flights.voidAll();
            else flights.voidTags([tag]);
          } else flights.voidKey(key);
        }
        return;
      case 'clear': {
        const { prefix } = message;
        if (prefix === undefined) flights.voidAll();
        else flights.voidWhere((key) => key.startsWith(prefix));
        return;
      }
      case 'pattern': {
        if (message.pattern === undefined) {
          flights.voidAll();
          return;
        }
        const pattern = globToRegExp(message.pattern);
        flights.voidWhere((key) => pattern.test(key));
        return;
      }
      default:
        if (message.type === 'tags' && message.tags) flights.voidTags(message.tags);
        else flights.voidAll();
    }
  }

  /**
   * What of `entry` may be used at all: `undefined` when it is of another version than asked
   * or voided by a tag; a copy marked expired (see `expired`) when a tag was invalidated softly
   * since it was written, so {@link freshness} makes it a grace fallback at best; else the
   * entry itself. A failing tag lookup is reported and answers `undefined`: better a reload
   * than an invalidated hit. `cleared` is {@link TagRecords.cleared} from before the entry was
   * read: if tag records left the store since, a tagged entry cannot be checked and is not
   * used (the clear removed it too).
   */
  usable<V>(
    entry: CacheEntry<V>,
    version: number | string | undefined,
    cleared: number,
  ): CacheEntry<V> | undefined | Promise<CacheEntry<V> | undefined> {
    if (version !== undefined && entry.version !== version) return undefined;
    if (entry.tags === undefined) return entry;
    if (this.tagRecords.cleared !== cleared) return undefined;
    try {
      const verdict = this.tagRecords.check(entry);
      if (typeof verdict === 'string') return applyVerdict(entry, verdict);
      return verdict.then(
        (v) => applyVerdict(entry, v),
        (error: unknown) => this.#untrusted(error),
      );
    } catch (error) {
      return this.#untrusted(error);
    }
  }

  /**
   * The fresh, usable entry among `found` (read when {@link TagRecords.cleared} was `cleared`),
   * or `undefined`; counted as a hit or a miss when `count`.
   */
  async fresh(
    fullKey: string,
    found: CacheEntry | undefined,
    version: number | string | undefined,
    cleared: number,
    count: boolean,
  ): Promise<CacheEntry | undefined> {
    const usable = found === undefined ? undefined : await this.usable(found, version, cleared);
    // The clock is read after the tag check, which may have waited for the store.
    const entry =
      usable !== undefined && freshness(usable, this.clock.now()) === 'fresh' ? usable : undefined;
    if (count) {
      if (entry === undefined) this.telemetry.miss(fullKey);
      else this.telemetry.hit(fullKey);
    }
    return entry;
  }

  /**
   * Keeps a store write that nobody awaits (the write of a loaded value) until it settles, for
   * {@link Engine.flush}, and hands it to `waitUntil`.
   */
  background(write: Promise<unknown>): void {
    this.#background.add(write);
    const done = () => this.#background.delete(write);
    write.then(done, done);
    this.#waitUntil?.(write);
  }

  /** Store writes running in the background now. */
  get pendingWrites(): number {
    return this.#background.size;
  }

  /** Resolves once every background write, including those started meanwhile, settled. */
  async flush(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** Stops following other processes' invalidations, waits for background writes, closes the store. */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.tagRetries.close();
    await this.flush();
    await this.gateway.store.close?.();
  }

  #untrusted(error: unknown): undefined {
    this.telemetry.error(error, 'get', undefined, false);
    return undefined;
  }
}

function applyVerdict<V>(entry: CacheEntry<V>, verdict: TagVerdict): CacheEntry<V> | undefined {
  return verdict === 'valid' ? entry : verdict === 'expired' ? expired(entry) : undefined;
}
