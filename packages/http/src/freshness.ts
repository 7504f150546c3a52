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

/** Reads `Cache-Control`, or the first targeted field present (`CDN-Cache-Control`), which wins. */
export function responseDirectives(
  headers: OutgoingHttpHeaders,
  targeted: readonly string[],
): CacheControl {
  for (const name of targeted) {
    const value = headers[name];
    if (value !== undefined) return parseCacheControl(value as string | string[]);
  }
  return parseCacheControl(headers['cache-control'] as string | string[] | undefined);
}

/**
 * The freshness of a response received at `now` (ms), by RFC 9111 section 4.2: `s-maxage` (for a
 * shared cache), else `max-age`, else `Expires` minus `Date`; a value that cannot be read means
 * stale. Without any of them, `heuristic` (the route's `ttl`) is the lifetime.
 */
export function freshnessOf(
  directives: CacheControl,
  headers: OutgoingHttpHeaders,
  now: number,
  shared: boolean,
  heuristic: number,
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
  // An Age that cannot be read (not one delta-seconds) makes the response stale.
  const declared =
    headers.age === undefined ? 0 : (seconds(single(headers.age)?.trim()) ?? MAX_SECONDS * 1000);
  return {
    lifetime: directives.has('no-cache') ? 0 : (lifetime ?? heuristic),
    explicit,
    age: Math.max(apparent, declared),
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

/** An HTTP date in ms since the epoch, or `undefined` when it cannot be read. */
export function httpDate(value: unknown): number | undefined {
  const text = single(value);
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

function single(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? String(value[0]) : undefined;
  return value === undefined ? undefined : String(value);
}
