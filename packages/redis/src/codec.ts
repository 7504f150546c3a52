import type { CacheEntry, Serializer } from '@cache/core';
import { defaultSerializer, InvalidArgumentError, SerializationError } from '@cache/core';

// One Redis string per entry, in one of two formats:
// - JSON: `[expiresAt, value, staleUntil, tags, version, createdAt]` (absent trailing members
//   left out, absent middle ones `null`), for a value that plain JSON round-trips exactly as the default
//   serializer (devalue) would. One native JSON.parse reads the whole entry, about twice as fast
//   as devalue, and reads are the hot path.
// - Serialized: `s|<expiresAt>|<staleUntil or empty>|<JSON [tags, version, createdAt] or empty>\n<value>`,
//   the value being the serializer's text. The numbers are parsed without JSON; the rare
//   tags/version/createdAt tail is JSON, which never contains a raw newline.
const SERIALIZED = 's|';
const JSON_ARRAY = 0x5b; // '['

/** Returns when the entry may be dropped: `staleUntil ?? expiresAt`. */
export function physicalExpiry(entry: CacheEntry): number {
  return entry.staleUntil ?? entry.expiresAt;
}

/** Returns the `PX` of an entry: `undefined` for no expiry, `0` when it is already past it. */
export function ttlOf(entry: CacheEntry, now: number): number | undefined {
  const until = physicalExpiry(entry);
  if (until === Number.POSITIVE_INFINITY) return undefined;
  if (!Number.isFinite(until)) {
    throw new InvalidArgumentError('entry.expiresAt', 'expected a number of ms since the epoch');
  }
  return Math.max(0, Math.ceil(until - now));
}

/** Encodes `entry` into the text stored in Redis. */
export function encodeEntry(entry: CacheEntry, serializer: Serializer): string {
  const { expiresAt, staleUntil, tags, version, createdAt } = entry;
  if (
    serializer === defaultSerializer &&
    Number.isFinite(expiresAt) &&
    (staleUntil === undefined || Number.isFinite(staleUntil)) &&
    (createdAt === undefined || Number.isFinite(createdAt)) &&
    isPlainJson(entry.value, new Set())
  ) {
    const fields: unknown[] = [
      expiresAt,
      entry.value,
      staleUntil ?? null,
      tags ?? null,
      version ?? null,
      createdAt,
    ];
    while (fields.length > 2 && fields[fields.length - 1] == null) fields.pop();
    return JSON.stringify(fields);
  }
  const payload = serializer.serialize(entry.value);
  const extra =
    tags !== undefined || version !== undefined || createdAt !== undefined
      ? JSON.stringify([tags ?? null, version ?? null, createdAt ?? null])
      : '';
  return `${SERIALIZED}${expiresAt}|${staleUntil ?? ''}|${extra}\n${payload}`;
}

/**
 * Whether JSON round-trips `value` exactly as devalue would: only null, booleans, strings,
 * finite numbers other than -0, dense arrays and plain objects without `undefined` members,
 * each object reached once (devalue keeps shared references shared).
 */
function isPlainJson(value: unknown, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (seen.has(value)) return false;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isPlainJson(value[i], seen)) return false;
        }
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      if (Object.getOwnPropertySymbols(value).length > 0) return false; // devalue rejects them
      for (const key in value) {
        if (key === '__proto__') return false;
        if (!isPlainJson((value as Record<string, unknown>)[key], seen)) return false;
      }
      return true;
    }
    default:
      return false;
  }
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
  if (text.charCodeAt(0) === JSON_ARRAY) return decodeJson(text, now);
  // Hand-parsed, without allocating: this runs once per key read.
  const bar1 = endOfNumber(text, 2);
  const bar2 = bar1 === -1 ? -1 : endOfNumber(text, bar1 + 1);
  const newline = bar2 === -1 ? -1 : text.indexOf('\n', bar2 + 1);
  if (!text.startsWith(SERIALIZED) || newline === -1) {
    throw new SerializationError('deserialize', 'the stored text is not a @cache/redis entry');
  }
  const expiresAt = parseNumber(text, 2, bar1);
  const staleUntil = bar2 > bar1 + 1 ? parseNumber(text, bar1 + 1, bar2) : undefined;
  if ((staleUntil ?? expiresAt) <= now) return undefined;
  const entry: CacheEntry = { value: serializer.deserialize(text.slice(newline + 1)), expiresAt };
  if (staleUntil !== undefined) entry.staleUntil = staleUntil;
  if (newline > bar2 + 1) {
    const [tags, version, createdAt] = JSON.parse(text.slice(bar2 + 1, newline)) as [
      string[] | null,
      number | string | null,
      (number | null)?,
    ];
    if (tags !== null) entry.tags = tags;
    if (version !== null) entry.version = version;
    if (createdAt != null) entry.createdAt = createdAt;
  }
  return entry;
}

function decodeJson(text: string, now: number): CacheEntry | undefined {
  let fields: [
    number,
    unknown,
    (number | null)?,
    (string[] | null)?,
    (number | string | null)?,
    number?,
  ];
  try {
    fields = JSON.parse(text);
  } catch (error) {
    throw new SerializationError('deserialize', (error as Error).message, error);
  }
  const [expiresAt, value, staleUntil, tags, version, createdAt] = fields;
  if ((staleUntil ?? expiresAt) <= now) return undefined;
  const entry: CacheEntry = { value, expiresAt };
  if (staleUntil != null) entry.staleUntil = staleUntil;
  if (tags != null) entry.tags = tags;
  if (version != null) entry.version = version;
  if (createdAt != null) entry.createdAt = createdAt;
  return entry;
}

const BAR = 0x7c; // '|'

/** The index of the `|` after the number that starts at `from`, or -1. */
function endOfNumber(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text.charCodeAt(i) === BAR) return i;
  return -1;
}

/** The number in `text` between `from` and `to`: digits by hand, anything else with `Number`. */
function parseNumber(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return Number(text.slice(from, to));
    value = value * 10 + digit;
  }
  return value;
}
