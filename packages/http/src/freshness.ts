import type { OutgoingHttpHeaders } from 'node:http';
import { type CacheControl, parseCacheControl } from './cacheControl.js';

/** How long a response is fresh and how it may be used once stale, read from its headers. */
export interface Freshness {
  /** The freshness lifetime in ms; 0 when the response must be revalidated before each use. */
  lifetime: number;
  /** Whether the lifetime came from the origin (`s-maxage`, `max-age`, `Expires`), not the route's `ttl`. */
  explicit: boolean;
  /** The age the response already had when received, in ms (`Age`, or `Date` in the past). */
  age: number;
  /** `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`: never served stale. */
  mustRevalidate: boolean;
  /** How long past freshness it may be served when the handler fails (`stale-if-error`), in ms. */
  staleIfError: number;
  /** How long past freshness it may be served while it is refreshed (`stale-while-revalidate`), in ms. */
  staleWhileRevalidate: number;
}

/**
 * Reads `Cache-Control`, or the first targeted field present (`CDN-Cache-Control`), which wins. A
 * targeted field is a Structured Field dictionary (RFC 9213): one that does not parse as one, or
 * whose delta-seconds directives are not integers, is ignored.
 */
export function responseDirectives(
  headers: OutgoingHttpHeaders,
  targeted: readonly string[],
): CacheControl {
  for (const name of targeted) {
    const value = headers[name];
    if (value !== undefined && isDictionary(value)) {
      return parseCacheControl(value as string | string[]);
    }
  }
  return parseCacheControl(headers['cache-control'] as string | string[] | undefined);
}

// One dictionary member: a key, optionally `=` a bare item (integer, decimal, string, token, byte
// sequence, boolean), optionally parameters (RFC 8941 section 3.2).
const ITEM = String.raw`(?:-?\d{1,15}(?:\.\d{1,3})?|"(?:[^"\\]|\\.)*"|[A-Za-z*][!#$%&'*+\-.^_\`|~:/A-Za-z0-9]*|\?[01]|:[A-Za-z0-9+/=]*:)`;
const KEY = '[a-z*][a-z0-9_\\-.*]*';
const MEMBER = new RegExp(`^${KEY}(?:=${ITEM})?(?:;\\s*${KEY}(?:=${ITEM})?)*$`);
const DELTA_SECONDS = ['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error'];

function isDictionary(value: unknown): boolean {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  for (const part of text.split(',')) {
    const member = part.trim();
    if (!MEMBER.test(member)) return false;
    const [name, item] = member.split(';')[0]!.split('=');
    if (DELTA_SECONDS.includes(name!) && item !== undefined && !/^\d+$/.test(item)) return false;
  }
  return true;
}

/**
 * The freshness of a response received at `now` (ms), by RFC 9111 section 4.2: `s-maxage` (for a
 * shared cache), else `max-age`, else `Expires` minus `Date`; a value that cannot be read means
 * stale. Without any of them, `heuristic` (the route's `ttl`) is the lifetime. `delay` is the
 * time in ms between the request to the handler and its response.
 */
export function freshnessOf(
  directives: CacheControl,
  headers: OutgoingHttpHeaders,
  now: number,
  shared: boolean,
  heuristic: number,
  delay = 0,
): Freshness {
  let lifetime: number | undefined;
  if (shared && directives.has('s-maxage')) lifetime = seconds(directives.get('s-maxage')) ?? 0;
  else if (directives.has('max-age')) lifetime = seconds(directives.get('max-age')) ?? 0;
  else if (headers.expires !== undefined) {
    const expires = httpDate(headers.expires);
    const date = httpDate(headers.date) ?? now;
    lifetime = expires === undefined ? 0 : Math.max(0, expires - date);
  }
  const explicit = lifetime !== undefined;
  const date = httpDate(headers.date);
  const apparent = date === undefined ? 0 : Math.max(0, now - date);
  // RFC 9111 section 5.1: the first member of a list counts; an invalid Age is ignored.
  const first = Array.isArray(headers.age) ? headers.age[0] : headers.age;
  const declared =
    seconds(first === undefined ? undefined : String(first).split(',')[0]!.trim()) ?? 0;
  return {
    lifetime: directives.has('no-cache') ? 0 : (lifetime ?? heuristic),
    explicit,
    // The time the response took to arrive counts too (RFC 9111 section 4.2.3).
    age: Math.max(apparent, declared + delay),
    mustRevalidate:
      directives.has('must-revalidate') ||
      directives.has('no-cache') ||
      (shared && (directives.has('proxy-revalidate') || directives.has('s-maxage'))),
    staleIfError: seconds(directives.get('stale-if-error')) ?? 0,
    staleWhileRevalidate: seconds(directives.get('stale-while-revalidate')) ?? 0,
  };
}

/** A delta-seconds value in ms, or `undefined` when it is not one; very large values are capped. */
export function seconds(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_SECONDS) * 1000;
}

// RFC 9111 section 1.2.2: delta-seconds past 2^31 are read as 2^31.
const MAX_SECONDS = 2_147_483_648;

/**
 * An HTTP date (RFC 9110 section 5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms)
 * in ms since the epoch, or `undefined` when it is not one.
 */
export function httpDate(value: unknown): number | undefined {
  const text = single(value);
  if (text === undefined) return undefined;
  const match = IMF_FIXDATE.exec(text) ?? RFC_850.exec(text) ?? ASCTIME.exec(text);
  if (match === null) return undefined;
  const { day, month, year, time } = match.groups!;
  const fullYear = year!.length === 2 ? Number(year) + (Number(year) < 70 ? 2000 : 1900) : year;
  const ms = Date.parse(`${day!.trim()} ${month} ${fullYear} ${time} GMT`);
  return Number.isNaN(ms) ? undefined : ms;
}

const MONTH = '(?<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(?<time>\\d{2}:\\d{2}:\\d{2})';
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\\d{2}) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`,
);
const RFC_850 = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?<day>\\d{2})-${MONTH}-(?<year>\\d{2}) ${TIME} GMT$`,
);
const ASCTIME = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`,
);

function single(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? String(value[0]) : undefined;
  return value === undefined ? undefined : String(value);
}
