import type { Engine } from './engine.js';
import { written } from './loading.js';
import { FAILED } from './storeGateway.js';
import { tagKey, tagRecord } from './tags.js';
import type { CacheEntry } from './types.js';

// Every mutation below first voids, through the flights (the write barrier), what was read or
// loaded before it, then issues its store call in the same tick: a read issued after it sees it,
// a load that started before it is not stored, a caller who comes after it does not join one.
// A soft invalidation (`soft`, `{ mode: 'expire' }`) is a mutation like any other: it only
// leaves the entries in place as grace fallbacks (see `SOFT_EXPIRED`) where the store can.

/** Stores entries. Resolves `false` when the store failed (reported); rejects a `SerializationError` when `strict`. */
export async function storeEntries(
  engine: Engine,
  entries: [key: string, entry: CacheEntry][],
  strict: boolean,
): Promise<boolean> {
  const { flights, gateway } = engine;
  for (const [key] of entries) flights.voidKey(key);
  const [first] = entries;
  const done =
    entries.length === 1
      ? await gateway.write('set', first![0], (store) => store.set(first![0], first![1]), strict)
      : await gateway.write(
          'set',
          undefined,
          (store) =>
            store.setMany
              ? store.setMany(entries)
              : Promise.all(entries.map(([k, e]) => store.set(k, e))).then(() => undefined),
          strict,
        );
  if (done === FAILED) return false;
  for (const [key, entry] of entries) written(engine, key, entry);
  return true;
}

/**
 * Deletes keys, or expires them when `soft` (a store without `expire` deletes them). Resolves
 * how many existed, or `FAILED` when the store failed (reported).
 */
export async function removeKeys(
  engine: Engine,
  keys: string[],
  soft = false,
): Promise<number | typeof FAILED> {
  const { flights, gateway, telemetry } = engine;
  for (const key of keys) flights.voidKey(key);
  const one = keys.length === 1 ? keys[0] : undefined;
  const count = await gateway.write('delete', one, (store) => {
    if (soft && store.expire) return store.expire(keys);
    if (one !== undefined) return store.delete(one);
    return store.deleteMany
      ? store.deleteMany(keys)
      : Promise.all(keys.map((k) => store.delete(k))).then((r) => r.filter(Boolean).length);
  });
  if (count === FAILED) return FAILED;
  telemetry.counters.deletes += keys.length;
  if (telemetry.listening.delete) {
    const store = gateway.store.name;
    for (const key of keys) telemetry.emit('delete', soft ? { key, store, soft } : { key, store });
  }
  return Number(count);
}

/**
 * Removes every key under `prefix` (`''`: the whole store, tag records included), or expires
 * them when `soft` (tag records kept; a store without `expirePrefix` clears instead).
 */
export async function clearPrefix(engine: Engine, prefix: string, soft = false): Promise<boolean> {
  const { flights, gateway, telemetry, tagRecords } = engine;
  const all = prefix === '';
  const expiring = soft && typeof gateway.store.expirePrefix === 'function';
  if (all) {
    flights.voidAll();
    if (!expiring) tagRecords.clear();
  } else flights.voidWhere((key) => key.startsWith(prefix));
  // No deadline: a clear walks the keyspace and takes as long as it takes.
  const done = await gateway.write(
    'clear',
    all ? undefined : prefix,
    (store) => (expiring ? store.expirePrefix!(prefix) : store.clear(all ? undefined : prefix)),
    false,
    false,
  );
  if (done === FAILED) return false;
  if (telemetry.listening.clear) {
    const store = gateway.store.name;
    const cleared = all ? undefined : prefix;
    telemetry.emit('clear', soft ? { prefix: cleared, store, soft } : { prefix: cleared, store });
  }
  return true;
}

/** Deletes the keys matching the glob `pattern` (`matches` tests a full key the same way). */
export async function removePattern(
  engine: Engine,
  pattern: string,
  matches: (key: string) => boolean,
): Promise<number> {
  const { flights, gateway, telemetry } = engine;
  flights.voidWhere(matches);
  // No deadline: a pattern walks the keyspace and takes as long as it takes.
  const count = await gateway.write(
    'delete',
    pattern,
    (store) => store.deletePattern!(pattern),
    false,
    false,
  );
  if (count === FAILED) return 0;
  telemetry.counters.deletes += count;
  if (telemetry.listening.invalidate) {
    telemetry.emit('invalidate', { pattern, store: gateway.store.name });
  }
  return count;
}

/**
 * Invalidates tags: records when (a stamp of the store's, see `TagRecords`), in process where
 * the store relays invalidations (so records are kept in process), and in the store for this
 * and other processes. Any load in flight may carry one of the tags (a loader can set its
 * tags), so none is joined afterwards nor stored with one of them (see `Flights.voidTags`).
 * A soft invalidation (`soft`) leaves tagged entries as grace fallbacks (see `tagRecord`).
 * Resolves `false` (reported) when the store could not give a stamp or take the records.
 */
export async function invalidateTags(
  engine: Engine,
  tags: string[],
  soft = false,
): Promise<boolean> {
  const landed = await invalidateTagsOnce(engine, tags, soft);
  // Reported already; it still reaches the store and the other processes once it can.
  if (!landed) engine.tagRetries.failed(tags, soft);
  return landed;
}

/** One try of {@link invalidateTags}: resolves whether it landed. */
export async function invalidateTagsOnce(
  engine: Engine,
  tags: string[],
  soft = false,
): Promise<boolean> {
  engine.flights.voidTags(tags);
  return engine.tagRecords.inTurn(() => writeTagRecords(engine, tags, soft));
}

async function writeTagRecords(engine: Engine, tags: string[], soft: boolean): Promise<boolean> {
  const { gateway, telemetry, tagRecords, policy } = engine;
  // A store that merges records keeps the later stamps whatever order writes land in, so a soft
  // invalidation need not read the records first (see `CacheStore.mergeTagRecords`).
  const merging = typeof gateway.store.mergeTagRecords === 'function';
  const at = await gateway.write('invalidate', undefined, () => tagRecords.invalidationStamp());
  if (at === FAILED) return false;
  // Otherwise a soft one keeps the last hard invalidation of each tag in force, read after the stamp.
  const hards =
    soft && !merging
      ? await gateway.write('invalidate', undefined, () => tagRecords.hardStamps(tags))
      : undefined;
  if (hards === FAILED) return false;
  const expiresAt = Date.now() + policy.tagTtl;
  // Merged, a soft record carries no hard stamp (0): the store keeps the one it holds.
  const records = tags.map((tag, i): [string, CacheEntry] => [
    tagKey(tag),
    tagRecord(at, soft ? (hards?.[i] ?? 0) : undefined, expiresAt),
  ]);
  if (merging) tagRecords.merging(tags, at, soft);
  else tagRecords.invalidated(tags, at, hards);
  const done = await gateway.write('set', undefined, (store) =>
    merging
      ? store.mergeTagRecords!(records)
      : store.setMany
        ? store.setMany(records)
        : Promise.all(records.map(([k, e]) => store.set(k, e))).then(() => undefined),
  );
  // Landed, the merged records may hold newer stamps (another process's): read them again. A
  // merge that failed stays held in process (see `TagRecords.merging`).
  if (merging && done !== FAILED) tagRecords.merged(tags);
  if (done === FAILED) return false;
  if (telemetry.listening.invalidate) {
    const store = gateway.store.name;
    telemetry.emit('invalidate', soft ? { tags, store, soft } : { tags, store });
  }
  return true;
}
