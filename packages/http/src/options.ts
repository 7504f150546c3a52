import type { Cache, Duration, TimeoutOptions } from '@cache/core';
import type { RequestDirectivePolicy } from './requestDirectives.js';

/**
 * How one route is cached. `Req` is the framework's request object: Express' `Request`, Koa's
 * `Context`, Fastify's `FastifyRequest`. Durations are ms or strings such as `'30s'`, `'5m'`.
 */
export interface RouteOptions<Req> {
  /**
   * Heuristic freshness: how long a response stays fresh when it carries no freshness of its own
   * (`s-maxage`, `max-age` or `Expires`, which always win). `0` stores only responses that say
   * how long they are fresh, as the standard expects of a cache by default.
   * @default 0
   */
  ttl?: Duration;
  /**
   * How long past its freshness a response may still be served when the handler fails (answers
   * 5xx or throws), and with `timeouts.soft`, to concurrent requests while the handler refreshes
   * it. Never for a response with `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`.
   * @default false
   */
  grace?: Duration | false;
  /**
   * Handler timeouts for the request that refreshes a response, as in `getOrSet` of
   * `@cache/core`: after `soft`, requests waiting on a refresh get the stale response (within
   * `grace`); after `hard`, they stop waiting and run the handler themselves. The request running
   * the handler always gets its own response (or the stale one if the handler fails).
   * @default the cache's `timeouts`
   */
  timeouts?: TimeoutOptions;
  /**
   * Builds the resource part of the key instead of the normalized URL. The method and origin are
   * always put before it and the `Vary` headers after it.
   * @default the URL with sorted query parameters, without `ignoreParams`
   */
  key?: (request: Req) => string;
  /**
   * Opt-in for personalized responses: returns who the request is for (a user id), or
   * `undefined` for an anonymous request. With it, every key of the route includes the user, so
   * requests carrying credentials (`credentialHeaders`) are cached per user and
   * `Cache-Control: private` responses are stored for their user only. Without it, such requests
   * bypass the cache.
   * @default undefined (credentialed requests bypass the cache)
   */
  user?: (request: Req) => string | undefined;
  /**
   * Tags of the route's responses, or a function of the request returning them
   * (`(req) => [`user:${req.params.id}`]`). Invalidating one of them (`invalidate` middleware or
   * `invalidateTags()`) makes every response stored with it a miss, in every process sharing the store.
   * @default none
   */
  tags?: readonly string[] | ((request: Req) => readonly string[]);
  /** Whether this request uses the cache at all; `false` lets it through untouched. @default always */
  condition?: (request: Req) => boolean;
  /**
   * The statuses stored under the heuristic `ttl`. With explicit freshness, any status a cache
   * understands (2xx but 206, 300-303, 307, 308, 4xx) is stored; 5xx never is.
   * @default [200, 203, 204, 300, 301, 308, 404, 405, 410, 414]
   */
  statuses?: readonly number[];
  /**
   * The largest body stored, in bytes. A larger response is sent as usual (streamed) but not stored.
   * @default 1_048_576 (1 MiB)
   */
  maxBodySize?: number;
}

/** Options of `httpCache()` (Express, Koa, Fastify) and {@link createHttpCache}: the cache and route defaults. */
export interface HttpCacheOptions<Req> extends RouteOptions<Req> {
  /** The cache responses are stored in: `createCache()` of `@cache/core`, over any store. */
  cache: Cache;
  /** Every key is stored under this namespace of `cache`. @default 'http' */
  namespace?: string;
  /**
   * Query parameters left out of the key, and removed from the URL the handler sees; a name
   * ending in `*` matches every name starting with the rest.
   * @default ['utm_*', 'fbclid', 'gclid']
   */
  ignoreParams?: readonly string[];
  /**
   * Request headers that carry who the user is: a request with one of them bypasses the cache
   * unless the route's `user` returns a user for it.
   * @default ['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'x-auth-token', 'x-access-token', 'api-key']
   */
  credentialHeaders?: readonly string[];
  /**
   * Response fields that, when present, replace `Cache-Control` for this cache (RFC 9213), the
   * first present one winning.
   * @default ['cdn-cache-control']
   */
  targetedCacheControl?: readonly string[];
  /** Which request `Cache-Control` directives are obeyed; each defaults to `true`. */
  requestDirectives?: RequestDirectivePolicy;
  /** Add a strong `ETag` (a hash of the body) to stored `200` responses that have none. @default true */
  etag?: boolean;
}
