import type { Engine } from './engine.js';
import { written } from './loading.js';
import { FAILED } from './storeGateway.js';
import { tagKey } from './tags.js';
import type { CacheEntry } from './types.js';

// Every mutation below first voids, through the flights (the write barrier), what was read or
// loaded before it, then issues its store call in the same tick: a read issued after it sees it,
// a load that started before it is not stored, a caller who comes after it does not join one.

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

/** Deletes keys. Resolves how many existed, or `FAILED` when the store failed (reported). */
export async function removeKeys(engine: Engine, keys: string[]): Promise<number | typeof FAILED> {
  const { flights, gateway, telemetry } = engine;
  for (const key of keys) flights.voidKey(key);
  const count =
    keys.length === 1
      ? await gateway.write('delete', keys[0], (store) => store.delete(keys[0]!))
      : await gateway.write('delete', undefined, (store) =>
          store.deleteMany
            ? store.deleteMany(keys)
            : Promise.all(keys.map((k) => store.delete(k))).then((r) => r.filter(Boolean).length),
        );
  if (count === FAILED) return FAILED;
  telemetry.counters.deletes += keys.length;
  if (telemetry.listening.delete) {
    for (const key of keys) telemetry.emit('delete', { key, store: gateway.store.name });
  }
  return Number(count);
}

/** Removes every key under `prefix` (`''`: the whole store, tag records included). */
export async function clearPrefix(engine: Engine, prefix: string): Promise<boolean> {
  const { flights, gateway, telemetry, tagRecords } = engine;
  const all = prefix === '';
  if (all) {
    flights.voidAll();
    tagRecords.clear();
  } else flights.voidWhere((key) => key.startsWith(prefix));
  // No deadline: a clear walks the keyspace and takes as long as it takes.
  const done = await gateway.write(
    'clear',
    all ? undefined : prefix,
    (store) => store.clear(all ? undefined : prefix),
    false,
    false,
  );
  if (done === FAILED) return false;
  if (telemetry.listening.clear) {
    telemetry.emit('clear', { prefix: all ? undefined : prefix, store: gateway.store.name });
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
 * Resolves `false` (reported) when the store could not give a stamp or take the records.
 */
export async function invalidateTags(engine: Engine, tags: string[]): Promise<boolean> {
  const landed = await invalidateTagsOnce(engine, tags);
  // Reported already; it still reaches the store and the other processes once it can.
  if (!landed) engine.tagRetries.failed(tags);
  return landed;
}

/** One try of {@link invalidateTags}: resolves whether it landed. */
export async function invalidateTagsOnce(engine: Engine, tags: string[]): Promise<boolean> {
  const { flights, gateway, telemetry, tagRecords, policy } = engine;
  flights.voidTags(tags);
  const at = await gateway.write('invalidate', undefined, () => tagRecords.invalidationStamp());
  if (at === FAILED) return false;
  const record: CacheEntry = { value: at, expiresAt: Date.now() + policy.tagTtl };
  const records = tags.map((tag): [string, CacheEntry] => [tagKey(tag), record]);
  tagRecords.invalidated(tags, at);
  const done = await gateway.write('set', undefined, (store) =>
    store.setMany
      ? store.setMany(records)
      : Promise.all(records.map(([k, e]) => store.set(k, e))).then(() => undefined),
  );
  if (done === FAILED) return false;
  if (telemetry.listening.invalidate) {
    telemetry.emit('invalidate', { tags, store: gateway.store.name });
  }
  return true;
}
