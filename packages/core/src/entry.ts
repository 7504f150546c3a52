import type { CacheEntry } from './types.js';

/**
 * What an entry read from a store may be used for at a given time:
 * - `'fresh'`: before `expiresAt`, served as a hit;
 * - `'stale'`: past `expiresAt` but before `staleUntil`, served only within grace (and reported);
 * - `'gone'`: past both, a miss, whatever the store returned (a store may answer a little late).
 */
export type Freshness = 'fresh' | 'stale' | 'gone';

/**
 * The `expiresAt` of an entry invalidated softly (`{ mode: 'expire' }`): long past, so the
 * entry is never fresh again, while its `staleUntil` keeps it as a grace fallback.
 */
export const SOFT_EXPIRED = 0;

/**
 * The one freshness decision every layer shares (core, `@cache/multilevel`, `@cache/http`). An
 * entry invalidated softly (its `expiresAt` is {@link SOFT_EXPIRED}, or see {@link expired}) is
 * at best `'stale'`: never a hit, only a grace fallback.
 *
 * @example
 * freshness({ value: 1, expiresAt: 100, staleUntil: 200 }, 150) // 'stale'
 */
export function freshness(entry: CacheEntry, now: number): Freshness {
  if (entry.expiresAt > now) return 'fresh';
  return entry.staleUntil !== undefined && entry.staleUntil > now ? 'stale' : 'gone';
}

/** Whether the entry was invalidated softly: its `expiresAt` is {@link SOFT_EXPIRED}. */
export function isSoftExpired(entry: CacheEntry): boolean {
  return entry.expiresAt === SOFT_EXPIRED;
}

/**
 * The entry as a soft invalidation leaves it: the same with `expiresAt` at
 * {@link SOFT_EXPIRED} (a new object: entries may be shared with the store).
 */
export function expired<V>(entry: CacheEntry<V>): CacheEntry<V> {
  return isSoftExpired(entry) ? entry : { ...entry, expiresAt: SOFT_EXPIRED };
}

/** When a store may drop the entry: the end of its grace, or its expiry without grace. */
export function graceEnd(entry: CacheEntry): number {
  return entry.staleUntil ?? entry.expiresAt;
}

/** Whether a store's answer is a {@link CacheEntry} as the contract requires (or `undefined`). */
export function isEntryOrMiss(found: unknown): found is CacheEntry | undefined {
  return (
    found === undefined ||
    (found !== null &&
      typeof found === 'object' &&
      typeof (found as CacheEntry).expiresAt === 'number')
  );
}

/** What {@link buildEntry} needs to know about the write. */
export interface EntryPlan {
  readonly ttl: number;
  readonly jitter: number;
  readonly grace: number;
  readonly tags?: string[] | undefined;
  readonly version?: number | string | undefined;
}

/**
 * The entry to store for `value` written at `now` (ms), or `undefined` when a TTL of 0 means
 * nothing is kept. `createdAt` is set on tagged entries: a tag invalidated at or after it voids
 * the entry.
 */
export function buildEntry(
  value: unknown,
  ttl: number,
  plan: EntryPlan,
  tags: string[] | undefined,
  now: number,
  createdAt: number,
): CacheEntry | undefined {
  if (ttl === 0) return undefined;
  if (plan.jitter > 0) {
    // Never spread by more than half the TTL, so a short per-call TTL stays short.
    const spread = Math.min(plan.jitter, ttl / 2);
    ttl = Math.max(1, Math.round(ttl + (Math.random() * 2 - 1) * spread));
  }
  const entry: CacheEntry = { value, expiresAt: now + ttl };
  if (plan.grace > 0) entry.staleUntil = entry.expiresAt + plan.grace;
  if (tags !== undefined && tags.length > 0) {
    entry.tags = tags;
    entry.createdAt = createdAt;
  }
  if (plan.version !== undefined) entry.version = plan.version;
  return entry;
}

/** What {@link Cache.getEntry} tells of a cached value. */
export interface EntryInfo<V = unknown> {
  /** The cached value. */
  value: V;
  /** Past its TTL (or invalidated softly), servable only within grace. */
  stale: boolean;
  /**
   * Invalidated with `{ mode: 'expire' }` (by key, prefix, tag or namespace): kept only as a
   * grace fallback, never served as fresh again.
   */
  invalidated: boolean;
  /** When it stops being fresh, ms since the epoch (`0` once invalidated). */
  expiresAt: number;
  /** When its grace ends, ms since the epoch, if it has grace. */
  staleUntil: number | undefined;
  /** The tags it was stored with (without the cache's own namespace tags). */
  tags: string[];
  /** The version it was stored with, if any. */
  version: number | string | undefined;
}

/** The {@link EntryInfo} of an entry that is fresh, or stale when `stale`. */
export function describeEntry<V>(entry: CacheEntry<V>, stale: boolean): EntryInfo<V> {
  return {
    value: entry.value,
    stale,
    invalidated: isSoftExpired(entry),
    expiresAt: entry.expiresAt,
    staleUntil: entry.staleUntil,
    tags: (entry.tags ?? []).filter((tag) => !tag.startsWith('__ns:')),
    version: entry.version,
  };
}
