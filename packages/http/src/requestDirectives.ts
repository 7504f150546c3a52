import type { IncomingHttpHeaders } from 'node:http';
import { parseCacheControl } from './cacheControl.js';
import { seconds } from './freshness.js';

/**
 * Which request `Cache-Control` directives (RFC 9111 section 5.2.1) the cache obeys. A server-side
 * cache may choose to ignore some, for example `noCache` so that clients cannot force the handler
 * to run (cache-busting); each defaults to `true`, as the standard says.
 */
export interface RequestDirectivePolicy {
  /** `no-store`: neither use nor store a response for this request. @default true */
  noStore?: boolean;
  /** `no-cache` and `Pragma: no-cache`: revalidate with the handler before answering. @default true */
  noCache?: boolean;
  /** `max-age=N`: a stored response older than N seconds (`max-age=0`: any) is refreshed first. @default true */
  maxAge?: boolean;
  /** `min-fresh=N`: a stored response fresh for less than N more seconds is refreshed first. @default true */
  minFresh?: boolean;
  /** `max-stale[=N]`: a stale response (up to N seconds) may be served. @default true */
  maxStale?: boolean;
  /** `only-if-cached`: answer `504` rather than run the handler. @default true */
  onlyIfCached?: boolean;
}

/** What one request asks of the cache. */
export interface RequestDirectives {
  noStore: boolean;
  noCache: boolean;
  /** ms, or `undefined` */
  maxAge: number | undefined;
  /** ms, or `undefined` */
  minFresh: number | undefined;
  /** ms (`Infinity` without a value), or `undefined` */
  maxStale: number | undefined;
  onlyIfCached: boolean;
}

/** The request's directives the policy obeys; `undefined` when there are none (the common case). */
export function requestDirectives(
  headers: IncomingHttpHeaders,
  policy: Required<RequestDirectivePolicy>,
): RequestDirectives | undefined {
  const header = headers['cache-control'];
  if (header === undefined) {
    // Pragma: no-cache counts only without Cache-Control (RFC 9111 section 5.4).
    const pragma = headers.pragma;
    if (pragma === undefined || !policy.noCache || !/(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) {
      return undefined;
    }
    return { ...NONE, noCache: true };
  }
  const directives = parseCacheControl(header);
  const maxStale = directives.get('max-stale');
  return {
    noStore: policy.noStore && directives.has('no-store'),
    noCache: policy.noCache && directives.has('no-cache'),
    maxAge: policy.maxAge ? seconds(directives.get('max-age')) : undefined,
    minFresh: policy.minFresh ? seconds(directives.get('min-fresh')) : undefined,
    maxStale:
      !policy.maxStale || maxStale === undefined
        ? undefined
        : maxStale === true
          ? Number.POSITIVE_INFINITY
          : seconds(maxStale),
    onlyIfCached: policy.onlyIfCached && directives.has('only-if-cached'),
  };
}

const NONE: RequestDirectives = {
  noStore: false,
  noCache: false,
  maxAge: undefined,
  minFresh: undefined,
  maxStale: undefined,
  onlyIfCached: false,
};
