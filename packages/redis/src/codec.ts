import type { CacheEntry, Serializer } from '@cache/core';
import { defaultSerializer, SerializationError } from '@cache/core';

// One Redis string per entry: a one-line header, then the encoded value.
//   <codec>|<expiresAt>|<staleUntil or empty>|<JSON [tags, version] or empty>\n<value>
// The numbers are parsed without JSON; the rare tags/version tail is JSON, which never
// contains a raw newline. Codec `s`: the value is the serializer's text. Codec `j`: the value is
// plain JSON, which the default serializer (devalue) would round-trip identically; JSON.parse
// reads it about twice as fast as devalue, and reads are the hot path.
const SERIALIZED = 's|';
const JSON_CODEC = 'j|';

/** Returns when the entry may be dropped: `staleUntil ?? expiresAt`. */
export function physicalExpiry(entry: CacheEntry): number {
  return entry.staleUntil ?? entry.expiresAt;
}

/** Encodes `entry` into the text stored in Redis. */
export function encodeEntry(entry: CacheEntry, serializer: Serializer): string {
  const plain = serializer === defaultSerializer && isPlainJson(entry.value, new Set());
  const payload = plain ? JSON.stringify(entry.value) : serializer.serialize(entry.value);
  const extra =
    entry.tags !== undefined || entry.version !== undefined
      ? JSON.stringify([entry.tags ?? null, entry.version ?? null])
      : '';
  const stale = entry.staleUntil === undefined ? '' : String(entry.staleUntil);
  return `${plain ? JSON_CODEC : SERIALIZED}${entry.expiresAt}|${stale}|${extra}\n${payload}`;
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
  // Hand-parsed, without allocating: this runs once per key read.
  const codec = text.charCodeAt(0);
  const bar1 = endOfNumber(text, 2);
  const bar2 = bar1 === -1 ? -1 : endOfNumber(text, bar1 + 1);
  const newline = bar2 === -1 ? -1 : text.indexOf('\n', bar2 + 1);
  if ((codec !== J && codec !== S) || text.charCodeAt(1) !== BAR || newline === -1) {
    throw new SerializationError('deserialize', 'the stored text is not a @cache/redis entry');
  }
  const expiresAt = parseNumber(text, 2, bar1);
  const staleUntil = bar2 > bar1 + 1 ? parseNumber(text, bar1 + 1, bar2) : undefined;
  if ((staleUntil ?? expiresAt) <= now) return undefined;
  const payload = text.slice(newline + 1);
  const value = codec === J ? parseJson(payload) : serializer.deserialize(payload);
  const entry: CacheEntry = { value, expiresAt };
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

const BAR = 0x7c; // '|'
const J = JSON_CODEC.charCodeAt(0);
const S = SERIALIZED.charCodeAt(0);

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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SerializationError('deserialize', (error as Error).message, error);
  }
}
