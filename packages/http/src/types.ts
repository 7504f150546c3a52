import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { GetOrSetOptions } from '@cache/core';
import type { Conditions } from './conditional.js';

/** A response as stored in the cache. Treat it as immutable: memory stores hand out the same object. */
export interface StoredResponse {
  /** The status code. */
  status: number;
  /** The response headers, lower-case, without hop-by-hop and never-stored headers, `Age` and `X-Cache`. */
  headers: Record<string, string | string[]>;
  /** The body as sent (still encoded when the handler set `Content-Encoding`); empty for `HEAD`. */
  body: Buffer;
  /** When the response was stored (ms since the epoch); `Age` counts from here. */
  storedAt: number;
  /** The age the response already had when it was stored, in ms (its `Age`, or its `Date` in the past). */
  age: number;
  /** When the response stops being fresh (ms since the epoch); past it, it is served as `STALE`. */
  expires: number;
  /** Whether it may never be served stale (`must-revalidate`, `proxy-revalidate`, `s-maxage`, `no-cache`). */
  mustRevalidate: boolean;
  /** Until when (ms since the epoch) it may be served stale if the handler fails. */
  staleIfError: number;
  /**
   * Until when (ms since the epoch) it may be served stale while a request sent in the background
   * refreshes it (`stale-while-revalidate`); `expires` when it may not.
   */
  staleWhileRevalidate: number;
  /** The origin's validators, sent to the handler to revalidate it once stale. */
  validators: Conditions | undefined;
  /** The lower-case header names of the response's `Vary`. */
  vary: string[];
  /** The request's values of those headers (`null` when absent). */
  varyValues: (string | null)[];
}

/** The parts of a request the cache reads. */
export interface HttpRequest {
  /** `'GET'`, `'HEAD'`, … */
  method: string;
  /** The original URL: path and query, as in the request line. */
  url: string;
  /** The request headers, as Node parses them (lower-case names). */
  headers: IncomingHttpHeaders;
  /**
   * The origin the request was made to, `scheme://host[:port]`, as the framework reads it
   * (`X-Forwarded-Proto` and `X-Forwarded-Host` only when the app trusts its proxy). Part of every
   * key, so that two hosts served by one app never share a response.
   * @default '' (one origin)
   */
  origin?: string;
}

/**
 * What an adapter decides once it sees a response's status and headers: `'store'` it, let it
 * `'pass'` unstored, or treat it as an `'error'` (5xx), which a stale response may replace.
 */
export type Verdict = 'store' | 'pass' | 'error';

/** What an adapter's fill function receives. */
export interface FillContext {
  /** The stale response being refreshed, if there is one: a `304` from the handler refreshes it. */
  stale: StoredResponse | undefined;
  /** The response to serve instead if the handler fails (grace, `stale-if-error`), if allowed. */
  fallback: StoredResponse | undefined;
  /** The validators to send the handler (`If-None-Match`, `If-Modified-Since`) to revalidate `stale`. */
  validators: Conditions | undefined;
  /** Judges a response from its status and headers; call it before sending anything, and again on the headers sent. */
  judge(status: number, headers: OutgoingHttpHeaders): Verdict;
  /** The largest body that may be stored, in bytes. */
  maxBodySize: number;
}

/** A response an adapter captured from the handler and that may be stored. */
export interface Filled {
  /** The status code; `304` when the handler confirmed the stale response. */
  status: number;
  /** The headers the handler set (leave out those set before the cache middleware ran). */
  headers: OutgoingHttpHeaders;
  /** The whole body. */
  body: Buffer;
  /**
   * Resolves with the headers actually sent once the response goes out (after middleware that
   * adds headers late, such as a session's `Set-Cookie`), or `undefined` when it never did; the
   * response is only stored if they still allow it. Leave out when `headers` are the ones sent.
   */
  sent?: Promise<OutgoingHttpHeaders | undefined>;
}

/**
 * Runs the handler for the one request that fills a cold (or stale) key. Resolves with the
 * response to store, or `undefined` when it must not be stored; rejects when the handler failed
 * (5xx or an exception), so that a fallback can be served.
 */
export type Fill = (context: FillContext) => Promise<Filled | undefined>;

/** What to do with a request, as decided by {@link HttpCache.handle}. */
export type Outcome =
  /** Not for the cache (method, credentials, condition, body): run the handler, add nothing. */
  | { type: 'bypass' }
  /** An unsafe method (`POST`, …): run the handler, then call {@link HttpCache.invalidateWritten}. */
  | { type: 'write' }
  /** The shared response cannot be used (not storable, failed): run the handler, `X-Cache: MISS`. */
  | { type: 'pass' }
  /** Send this response from the cache (`STALE` when past `expires`); `range` is the request's `Range`. */
  | { type: 'hit'; response: StoredResponse; range?: string }
  /** `only-if-cached` and nothing usable is stored: answer `504`. */
  | { type: 'unavailable' }
  /** This request ran the handler through `fill`; `response` is what it answered, if storable. */
  | { type: 'filled'; response: StoredResponse | undefined }
  /** This request's handler failed; `stale` is the response to serve instead, if any. */
  | { type: 'failed'; error: unknown; stale: StoredResponse | undefined };

/** A route's options, resolved once by {@link HttpCache.route}. */
export interface Route<Req> {
  /** Heuristic freshness in ms, for responses without `s-maxage`, `max-age` or `Expires`. */
  readonly ttl: number;
  /** Grace in ms, or `false`. */
  readonly grace: number | false;
  /** What `getOrSet` is called with (the route's timeouts). */
  readonly loadOptions: GetOrSetOptions | undefined;
  /** The route's `key` option. */
  readonly key: ((request: Req) => string) | undefined;
  /** The route's `user` option. */
  readonly user: ((request: Req) => string | undefined) | undefined;
  /** The route's tags for a request (checked). */
  readonly tags: ((request: Req) => readonly string[]) | undefined;
  /** The route's `condition` option. */
  readonly condition: ((request: Req) => boolean) | undefined;
  /** The statuses that may be stored without explicit freshness. */
  readonly statuses: ReadonlySet<number>;
  /** The largest body stored, in bytes. */
  readonly maxBodySize: number;
}
