import type { OutgoingHttpHeaders } from 'node:http';

/** The validators a client sent: `If-None-Match` and `If-Modified-Since`. */
export interface Conditions {
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
}

/**
 * Whether a `200` response with `headers` may be answered with `304 Not Modified` to a client
 * that sent `conditions`. `If-None-Match` (weak comparison, `*` included) wins over
 * `If-Modified-Since`, as RFC 9110 says.
 */
export function isNotModified(conditions: Conditions, headers: OutgoingHttpHeaders): boolean {
  const { ifNoneMatch, ifModifiedSince } = conditions;
  if (ifNoneMatch !== undefined) {
    const etag = headers.etag;
    if (typeof etag !== 'string') return false;
    if (ifNoneMatch.trim() === '*') return true;
    const own = opaque(etag);
    return ifNoneMatch.split(',').some((tag) => opaque(tag) === own);
  }
  if (ifModifiedSince !== undefined) {
    const lastModified = headers['last-modified'];
    if (typeof lastModified !== 'string') return false;
    const since = Date.parse(ifModifiedSince);
    const modified = Date.parse(lastModified);
    return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
  }
  return false;
}

/** The headers a `304` keeps from the `200` it stands for (RFC 9110, section 15.4.5). */
export const NOT_MODIFIED_HEADERS = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'last-modified',
  'vary',
];

function opaque(tag: string): string {
  const trimmed = tag.trim();
  return trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed;
}
