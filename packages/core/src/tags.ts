import { InvalidArgumentError } from './errors.js';
import type { CacheEntry, CacheStore } from './types.js';

/** Keys under this prefix belong to the cache itself (tag records); user keys may not use it. */
export const RESERVED_PREFIX = '__cache:';
const TAG_PREFIX = `${RESERVED_PREFIX}tag:`;

let last = 0;

/**
 * Wall-clock ms that strictly increase within the process (nudged by a microsecond when the
 * clock has not moved), so a load that starts after an invalidation in the same millisecond is
 * still known to be newer. Across processes it relies on synchronized clocks.
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

/**
 * Whether a tag invalidated at or after the entry was created voids it: `true`/`false` when the
 * store answered synchronously, a promise otherwise.
 */
export function voidedByTags(store: CacheStore, entry: CacheEntry): boolean | Promise<boolean> {
  const tags = entry.tags!;
  const createdAt = entry.createdAt ?? 0;
  let pending: Promise<CacheEntry | undefined>[] | undefined;
  for (const tag of tags) {
    const record = store.get(tagKey(tag));
    if (record instanceof Promise) {
      pending ??= [];
      pending.push(record);
    } else if (record !== undefined && (record.value as number) >= createdAt) return true;
  }
  if (pending === undefined) return false;
  return Promise.all(pending).then((records) =>
    records.some((record) => record !== undefined && (record.value as number) >= createdAt),
  );
}
