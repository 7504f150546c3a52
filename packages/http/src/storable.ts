import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { CacheControl } from './cacheControl.js';
import type { Conditions } from './conditional.js';
import { freshnessOf, responseDirectives } from './freshness.js';
import type { Filled, StoredResponse, Verdict } from './types.js';
import { parseVary, varyValues } from './vary.js';

// Never stored: hop-by-hop fields and those that describe one transmission or one client.
const UNSTORED = new Set([
  'age',
  'connection',
  'content-length',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
  'proxy-connection',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-cache',
]);

// Fields a 304 does not change: they describe the stored representation (RFC 9111 section 3.2).
const KEPT_ON_304 = new Set([
  'content-encoding',
  'content-length',
  'content-md5',
  'content-range',
  'etag',
]);

/** What the rules below read from the cache and the route. */
export interface Rules {
  /** Targeted fields that win over `Cache-Control` (`cdn-cache-control`), in order. */
  targeted: readonly string[];
  /** Heuristic freshness in ms. */
  ttl: number;
  /** Route grace in ms, or `false`. */
  grace: number | false;
  /** Statuses stored without explicit freshness. */
  statuses: ReadonlySet<number>;
  /** Whether the response is kept for one user only (the route's `user`). */
  personal: boolean;
  /** Add an `ETag` to stored `200`s without a validator. */
  etag: boolean;
}

/** Whether a response of `status` with `headers` may be stored (RFC 9111 section 3), before its body. */
export function judge(
  rules: Rules,
  status: number,
  headers: OutgoingHttpHeaders,
  stale: StoredResponse | undefined,
): Verdict {
  if (status >= 500) return 'error';
  if (status === 304) return stale === undefined ? 'pass' : 'store';
  if (headers['set-cookie'] !== undefined) return 'pass';
  const directives = responseDirectives(headers, rules.targeted);
  if (directives.has('no-store') || (directives.has('private') && !rules.personal)) return 'pass';
  if (parseVary(headers.vary as string | string[] | undefined)[0] === '*') return 'pass';
  const freshness = freshnessOf(directives, headers, Date.now(), !rules.personal, rules.ttl);
  if (!rules.statuses.has(status) && !(freshness.explicit && understood(status))) return 'pass';
  if (freshness.lifetime > freshness.age) return 'store';
  // Stale at once: worth keeping only to be revalidated, when the origin gave a validator.
  const validated = headers.etag !== undefined || headers['last-modified'] !== undefined;
  return validated && (freshness.explicit || directives.has('no-cache')) ? 'store' : 'pass';
}

/**
 * The response to store from what the handler answered, or `undefined` when its body disagrees
 * with its `Content-Length` (cut short). A `304` refreshes `stale`: its headers replace the
 * stored ones and the stored body is kept.
 */
export function build(
  rules: Rules,
  filled: Filled,
  request: { method: string; headers: IncomingHttpHeaders },
  stale: StoredResponse | undefined,
  requested: number = Date.now(),
): StoredResponse | undefined {
  const head = request.method === 'HEAD';
  const revalidated = filled.status === 304 && stale !== undefined;
  const declared = filled.headers['content-length'];
  if (!revalidated && !head && declared !== undefined && Number(declared) !== filled.body.length) {
    return undefined;
  }
  const directives = responseDirectives(filled.headers, rules.targeted);
  const headers: Record<string, string | string[]> = revalidated ? { ...stale.headers } : {};
  const unstored = unstoredFields(filled.headers, directives);
  for (const name of Object.keys(filled.headers)) {
    const value = filled.headers[name];
    if (value === undefined || UNSTORED.has(name) || unstored.has(name)) continue;
    if (revalidated && KEPT_ON_304.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  const body = revalidated ? stale.body : head ? Buffer.alloc(0) : filled.body;
  const status = revalidated ? stale.status : filled.status;
  if (revalidated || !head || body.length > 0) headers['content-length'] = String(body.length);
  else if (declared !== undefined) headers['content-length'] = String(declared);
  const validators = validatorsOf(headers);
  if (rules.etag && status === 200 && !head && headers.etag === undefined) {
    headers.etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  }
  const now = Date.now();
  const merged = revalidated ? responseDirectives(headers, rules.targeted) : directives;
  // Age is not stored, but the age the response arrived with counts.
  const received = { ...headers, age: filled.headers.age };
  const freshness = freshnessOf(merged, received, now, !rules.personal, rules.ttl, now - requested);
  const expires = now + freshness.lifetime - freshness.age;
  const grace = freshness.mustRevalidate ? 0 : Math.max(rules.grace || 0, freshness.staleIfError);
  const vary = parseVary(headers.vary);
  return {
    status,
    headers,
    body,
    storedAt: now,
    age: freshness.age,
    expires,
    mustRevalidate: freshness.mustRevalidate,
    staleIfError: expires + grace,
    staleWhileRevalidate: expires + (freshness.mustRevalidate ? 0 : freshness.staleWhileRevalidate),
    validators,
    vary,
    varyValues: revalidated ? stale.varyValues : varyValues(vary, request.headers),
  };
}

/**
 * How long past `expires` a stored response is kept: for grace, `stale-if-error`,
 * `stale-while-revalidate` and revalidation.
 */
export function retention(response: StoredResponse): number {
  const revalidate = response.validators === undefined ? 0 : KEEP_FOR_REVALIDATION;
  const window = (response.staleWhileRevalidate ?? response.expires) - response.expires;
  return Math.max(response.staleIfError - response.expires, window, revalidate);
}

// A stale response with validators is kept this long, to be revalidated rather than fetched again.
const KEEP_FOR_REVALIDATION = 3_600_000;

// Statuses whose meaning a cache knows, so that explicit freshness lets them be stored.
function understood(status: number): boolean {
  return (
    (status >= 200 && status < 300 && status !== 206) ||
    [300, 301, 302, 303, 307, 308].includes(status) ||
    (status >= 400 && status < 500)
  );
}

// Fields named by `Connection`, `no-cache="…"` and `private="…"`: never stored.
function unstoredFields(headers: OutgoingHttpHeaders, directives: CacheControl): Set<string> {
  const names = new Set<string>();
  const add = (list: unknown) => {
    if (typeof list !== 'string' && !Array.isArray(list)) return;
    for (const name of String(list).split(',')) names.add(name.trim().toLowerCase());
  };
  add(headers.connection);
  add(directives.get('no-cache'));
  add(directives.get('private'));
  return names;
}

function validatorsOf(headers: Record<string, string | string[]>): Conditions | undefined {
  const etag = typeof headers.etag === 'string' ? headers.etag : undefined;
  const modified =
    typeof headers['last-modified'] === 'string' ? headers['last-modified'] : undefined;
  if (etag === undefined && modified === undefined) return undefined;
  return { ifNoneMatch: etag, ifModifiedSince: modified };
}
