import type { CacheEntry, Serializer } from '@cache/core';
import { SerializationError } from '@cache/core';

// One Redis string per entry: a one-line header, then the serialized value.
//   1|<expiresAt>|<staleUntil or empty>|<JSON [tags, version] or empty>\n<serialized value>
// The numbers are parsed without JSON; the rare tags/version tail is JSON, which never
// contains a raw newline.
const MAGIC = '1|';

/** Returns when the entry may be dropped: `staleUntil ?? expiresAt`. */
export function physicalExpiry(entry: CacheEntry): number {
  return entry.staleUntil ?? entry.expiresAt;
}

/** Encodes `entry` into the text stored in Redis. */
export function encodeEntry(entry: CacheEntry, serializer: Serializer): string {
  const payload = serializer.serialize(entry.value);
  const extra =
    entry.tags !== undefined || entry.version !== undefined
      ? JSON.stringify([entry.tags ?? null, entry.version ?? null])
      : '';
  const stale = entry.staleUntil === undefined ? '' : String(entry.staleUntil);
  return `${MAGIC}${entry.expiresAt}|${stale}|${extra}\n${payload}`;
}

/**
 * Decodes text produced by {@link encodeEntry}; returns `undefined` when the entry is past
 * `staleUntil ?? expiresAt` at `now`. Throws a {@link SerializationError} on foreign text.
 */
export function decodeEntry(
  text: string,
  serializer: Serializer,
  now: number,
): CacheEntry | undefined {
  const bar1 = text.indexOf('|', 2);
  const bar2 = bar1 === -1 ? -1 : text.indexOf('|', bar1 + 1);
  const newline = bar2 === -1 ? -1 : text.indexOf('\n', bar2 + 1);
  if (!text.startsWith(MAGIC) || newline === -1) {
    throw new SerializationError('deserialize', 'the stored text is not a @cache/redis entry');
  }
  const expiresAt = Number(text.slice(2, bar1));
  const staleUntil = bar2 > bar1 + 1 ? Number(text.slice(bar1 + 1, bar2)) : undefined;
  if ((staleUntil ?? expiresAt) <= now) return undefined;
  const entry: CacheEntry = { value: serializer.deserialize(text.slice(newline + 1)), expiresAt };
  if (staleUntil !== undefined) entry.staleUntil = staleUntil;
  if (newline > bar2 + 1) {
    const [tags, version] = JSON.parse(text.slice(bar2 + 1, newline)) as [
      string[] | null,
      number | string | null,
    ];
    if (tags !== null) entry.tags = tags;
    if (version !== null) entry.version = version;
  }
  return entry;
}
