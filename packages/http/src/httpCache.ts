import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import {
  Cache,
  type GetOrSetOptions,
  InvalidArgumentError,
  type LoaderContext,
  parseDuration,
  parseOptionalDuration,
} from '@cache/core';
import { parseCacheControl, secondsDirective } from './cacheControl.js';
import type { HttpCacheOptions, RouteOptions } from './options.js';
import { generationTags, type TagIndex } from './tags.js';
import { normalizeUrl } from './url.js';
import { matchesVary, parseVary, variantSuffix, varyValues } from './vary.js';

/** A response as stored in the cache. Treat it as immutable: memory stores hand out the same object. */
export interface StoredResponse {
  /** The status code. */
  status: number;
  /** The response headers, lower-case, without hop-by-hop headers, `Date`, `Age` and `X-Cache`. */
  headers: Record<string, string | string[]>;
  /** The body as sent (still encoded when the handler set `Content-Encoding`); empty for `HEAD`. */
  body: Buffer;
  /** When the response was stored (ms since the epoch); `Age` counts from here. */
  storedAt: number;
  /** When the response stops being fresh (ms since the epoch); past it, it is served as `STALE`. */
  expires: number;
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
}

/**
 * What an adapter decides once it sees a response's status and headers: store it for this many
 * ms, let it `'pass'` unstored, or treat it as an `'error'` (5xx), which a stale response may replace.
 */
export type Verdict = number | 'pass' | 'error';

/** What an adapter's fill function receives. */
export interface FillContext {
  /** The stale response being refreshed, if there is one within grace. */
  stale: StoredResponse | undefined;
  /** Judges a response from its status and headers; call it before sending anything. */
  judge(status: number, headers: OutgoingHttpHeaders): Verdict;
  /** The largest body that may be stored, in bytes. */
  maxBodySize: number;
}

/** A response an adapter captured from the handler and that may be stored. */
export interface Filled {
  /** The status code. */
  status: number;
  /** The headers the handler set (leave out those set before the cache middleware ran). */
  headers: OutgoingHttpHeaders;
  /** The whole body. */
  body: Buffer;
  /** The verdict's TTL in ms. */
  ttl: number;
}

/**
 * Runs the handler for the one request that fills a cold (or stale) key. Resolves with the
 * response to store, or `undefined` when it must not be stored; rejects when the handler failed
 * (5xx or an exception), so that grace can serve the stale response.
 */
export type Fill = (context: FillContext) => Promise<Filled | undefined>;

/** What to do with a request, as decided by {@link HttpCache.handle}. */
export type Outcome =
  /** Not for the cache (method, credentials, condition): run the handler, add nothing. */
  | { type: 'bypass' }
  /** The shared response cannot be used (not storable, failed): run the handler, `X-Cache: MISS`. */
  | { type: 'pass' }
  /** Send this response from the cache (`STALE` when past `expires`). */
  | { type: 'hit'; response: StoredResponse }
  /** This request ran the handler through `fill`; `response` is what was stored, if anything. */
  | { type: 'filled'; response: StoredResponse | undefined }
  /** This request's handler failed; `stale` is the response to serve instead, if any. */
  | { type: 'failed'; error: unknown; stale: StoredResponse | undefined };

/** A route's options, resolved once by {@link HttpCache.route}. */
export interface Route<Req> {
  /** Freshness in ms when the response has no `s-maxage`/`max-age`. */
  readonly ttl: number;
  /** Grace in ms, or `false`. */
  readonly grace: number | false;
  /** What `getOrSet` is called with (the route's timeouts). */
  readonly loadOptions: GetOrSetOptions | undefined;
  /** See {@link RouteOptions.key}. */
  readonly key: ((request: Req) => string) | undefined;
  /** See {@link RouteOptions.user}. */
  readonly user: ((request: Req) => string | undefined) | undefined;
  /** The route's tags for a request (checked). */
  readonly tags: ((request: Req) => readonly string[]) | undefined;
  /** See {@link RouteOptions.condition}. */
  readonly condition: ((request: Req) => boolean) | undefined;
  /** The statuses that may be stored. */
  readonly statuses: ReadonlySet<number>;
  /** The largest body stored, in bytes. */
  readonly maxBodySize: number;
}

const DEFAULT_STATUSES = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414];
const DEFAULT_IGNORED_PARAMS = ['utm_*', 'fbclid', 'gclid'];
// Never stored: hop-by-hop headers, and those that describe one transmission, not the resource.
const UNSTORED = new Set([
  'age',
  'connection',
  'content-length',
  'date',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-cache',
]);
// What the loader returns for a response that must not be shared; never stored (skip()).
const NOT_STORED = Symbol('not stored');
const BYPASS: Outcome = { type: 'bypass' };
const PASS: Outcome = { type: 'pass' };

/** What a URL's key holds for a varying response: the headers its variants are keyed by. */
interface VaryIndex {
  vary: string[];
}

type Loaded = StoredResponse | VaryIndex | typeof NOT_STORED;

function isResponse(value: Loaded | undefined): value is StoredResponse {
  return typeof value === 'object' && 'status' in value;
}

/**
 * The framework-agnostic engine behind `@cache/http/express` and `@cache/http/koa`: keys, HTTP
 * caching rules, single-flight through `getOrSet`, vary handling and tag invalidation. Adapters
 * call {@link HttpCache.handle} per request and supply a {@link Fill} that runs the handler.
 */
export class HttpCache<Req> {
  readonly #cache: Cache;
  readonly #tags: TagIndex;
  readonly #ignoreParams: readonly string[];
  readonly #etag: boolean;
  readonly #defaults: RouteOptions<Req>;

  /** Prefer {@link createHttpCache}; throws {@link InvalidArgumentError} naming a bad option. */
  constructor(options: HttpCacheOptions<Req>) {
    if (options === null || typeof options !== 'object' || !(options.cache instanceof Cache)) {
      throw new InvalidArgumentError('cache', 'expected a Cache from createCache() of @cache/core');
    }
    const {
      cache,
      namespace = 'http',
      ignoreParams = DEFAULT_IGNORED_PARAMS,
      etag = true,
    } = options;
    if (!Array.isArray(ignoreParams) || ignoreParams.some((p) => typeof p !== 'string')) {
      throw new InvalidArgumentError('ignoreParams', 'expected an array of parameter names');
    }
    this.#cache = cache.namespace(namespace);
    this.#tags = generationTags(this.#cache);
    this.#ignoreParams = ignoreParams;
    this.#etag = etag;
    this.#defaults = options;
    this.route(); // validates the route defaults now rather than at the first request
  }

  /** Resolves a route's options over the defaults; throws {@link InvalidArgumentError} for a bad one. */
  route(options: RouteOptions<Req> = {}): Route<Req> {
    const merged = { ...this.#defaults, ...options };
    const grace =
      merged.grace === undefined || merged.grace === false
        ? false
        : parseDuration(merged.grace, 'grace');
    const soft = parseOptionalDuration(merged.timeouts?.soft, 'timeouts.soft');
    const hard = parseOptionalDuration(merged.timeouts?.hard, 'timeouts.hard');
    const statuses = merged.statuses ?? DEFAULT_STATUSES;
    if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 100)) {
      throw new InvalidArgumentError('statuses', 'expected an array of status codes');
    }
    if (statuses.some((s) => s >= 500)) {
      throw new InvalidArgumentError('statuses', '5xx responses are never stored');
    }
    const maxBodySize = merged.maxBodySize ?? 1_048_576;
    if (!Number.isSafeInteger(maxBodySize) || maxBodySize < 0) {
      throw new InvalidArgumentError(
        'maxBodySize',
        `expected a number of bytes, got ${maxBodySize}`,
      );
    }
    const { tags } = merged;
    if (tags !== undefined && typeof tags !== 'function') checkTags(tags);
    const timeouts = soft === undefined && hard === undefined ? undefined : { soft, hard };
    return {
      ttl: parseDuration(merged.ttl ?? '1m', 'ttl'),
      grace,
      loadOptions: timeouts && { timeouts },
      key: fn(merged.key, 'key'),
      user: fn(merged.user, 'user'),
      tags:
        typeof tags === 'function' ? (request) => checkTags(tags(request)) : tags && (() => tags),
      condition: fn(merged.condition, 'condition'),
      statuses: new Set(statuses),
      maxBodySize,
    };
  }

  /**
   * Decides how to answer one request: bypass the cache, send a stored response, or let this
   * request fill the key by running `fill` (once per key, however many identical requests wait).
   * `native` is the framework's request, handed to the route's `key`, `user`, `tags` and `condition`.
   * Rejects only when one of those functions throws.
   */
  async handle(route: Route<Req>, native: Req, request: HttpRequest, fill: Fill): Promise<Outcome> {
    const { method, headers } = request;
    if ((method !== 'GET' && method !== 'HEAD') || headers.range !== undefined) return BYPASS;
    if (route.condition !== undefined && !route.condition(native)) return BYPASS;
    const user = route.user?.(native);
    const personal = typeof user === 'string' && user !== '';
    if (!personal && (headers.authorization !== undefined || headers.cookie !== undefined)) {
      return BYPASS;
    }
    let base = `${method} ${route.key === undefined ? normalizeUrl(request.url, this.#ignoreParams) : route.key(native)}`;
    if (personal) base += `\n@${JSON.stringify(user)}`;
    const tags = route.tags?.(native);
    if (tags !== undefined) base += await this.#tags.generation(tags);
    let key = `r:${base}`;
    let context: FillContext | undefined;
    let loading: Promise<Loaded> | undefined;
    const loader = (loaderContext: LoaderContext<Loaded>): Promise<Loaded> => {
      loaderContext.skip(); // the loader stores the response itself, under its variant key
      const { stale } = loaderContext;
      context = {
        // Core hands the loader a stale value only while it is within grace.
        stale: isResponse(stale) ? stale : undefined,
        judge: (status, responseHeaders) => this.#judge(route, personal, status, responseHeaders),
        maxBodySize: route.maxBodySize,
      };
      loading = fill(context).then((filled): Loaded | Promise<Loaded> =>
        filled === undefined
          ? NOT_STORED
          : this.#store(base, this.#build(filled, request), route, tags),
      );
      return loading;
    };
    // At most three lookups: the URL's key, which may hold the Vary index of its variants; the
    // variant; and once more when a response shared by a filler was stored for other values.
    for (let attempt = 0; attempt < 3; attempt++) {
      let value: Loaded | undefined;
      try {
        value = await this.#cache.getOrSet(key, loader, route.loadOptions);
      } catch {
        // A waiter whose filler failed or timed out; the filler itself is answered below.
      }
      if (loading !== undefined) {
        // This request filled the key: its answer is its own handler's, even when the waiters got
        // a stale response because the handler was slow.
        try {
          const own = await loading;
          return { type: 'filled', response: isResponse(own) ? own : undefined };
        } catch (error) {
          return { type: 'failed', error, stale: context!.stale };
        }
      }
      if (value === undefined || value === NOT_STORED) return PASS;
      if (isResponse(value) && matchesVary(value.vary, value.varyValues, headers)) {
        return { type: 'hit', response: value };
      }
      const variant = `r:${base}${variantSuffix(varyValues(value.vary, headers))}`;
      if (variant === key) return PASS;
      key = variant;
    }
    return PASS;
  }

  /**
   * Makes every response stored with one of `tags` a miss, in every process sharing the store.
   * Rejects when the store refused the write (the cache also emits an `error` event).
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    await this.#tags.invalidate(checkTags(tags));
  }

  #judge(
    route: Route<Req>,
    personal: boolean,
    status: number,
    headers: OutgoingHttpHeaders,
  ): Verdict {
    if (status >= 500) return 'error';
    if (!route.statuses.has(status) || headers['set-cookie'] !== undefined) return 'pass';
    const directives = parseCacheControl(headers['cache-control'] as string | string[] | undefined);
    const isPrivate = directives.has('private');
    if (directives.has('no-store') || directives.has('no-cache') || (isPrivate && !personal)) {
      return 'pass';
    }
    if (parseVary(headers.vary as string | string[] | undefined)[0] === '*') return 'pass';
    // s-maxage is for shared caches; a response kept for its one user follows max-age.
    const shared = isPrivate ? undefined : secondsDirective(directives, 's-maxage');
    const ttl = shared ?? secondsDirective(directives, 'max-age') ?? route.ttl;
    return ttl > 0 ? ttl : 'pass';
  }

  #build(filled: Filled, request: HttpRequest): StoredResponse {
    const { status, body, ttl } = filled;
    const headers: Record<string, string | string[]> = {};
    for (const name of Object.keys(filled.headers)) {
      const value = filled.headers[name];
      if (value === undefined || UNSTORED.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.map(String) : String(value);
    }
    const head = request.method === 'HEAD';
    if (!head || body.length > 0) headers['content-length'] = String(body.length);
    else if (filled.headers['content-length'] !== undefined) {
      headers['content-length'] = String(filled.headers['content-length']);
    }
    if (this.#etag && status === 200 && !head && headers.etag === undefined) {
      headers.etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
    }
    const vary = parseVary(headers.vary);
    const now = Date.now();
    return {
      status,
      headers,
      body: head ? Buffer.alloc(0) : body,
      storedAt: now,
      expires: now + ttl,
      vary,
      varyValues: varyValues(vary, request.headers),
    };
  }

  async #store(
    base: string,
    response: StoredResponse,
    route: Route<Req>,
    tags: readonly string[] | undefined,
  ): Promise<StoredResponse> {
    const ttl = response.expires - response.storedAt;
    const { vary } = response;
    const writes: Promise<unknown>[] = [
      this.#cache.set(`r:${base}${variantSuffix(response.varyValues)}`, response, {
        ttl,
        grace: route.grace,
        // Kept with the entry, so that core's invalidateTags() voids it too.
        tags: tags === undefined || tags.length === 0 ? undefined : [...tags],
      }),
    ];
    // A varying response leaves the index of its variants under the URL's key; the index
    // outlives them, so that they stay reachable in grace.
    if (vary.length > 0) {
      const index: VaryIndex = { vary };
      writes.push(
        this.#cache.set(`r:${base}`, index, { ttl: ttl + (route.grace || 0), grace: false }),
      );
    }
    await Promise.all(writes);
    return response;
  }
}

/**
 * Creates the framework-agnostic {@link HttpCache}. Most applications use `httpCache()` from
 * `@cache/http/express` or `@cache/http/koa` instead; this is for writing another adapter.
 */
export function createHttpCache<Req>(options: HttpCacheOptions<Req>): HttpCache<Req> {
  return new HttpCache(options);
}

function fn<F>(value: F | undefined, argument: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidArgumentError(argument, `expected a function, got ${typeof value}`);
  }
  return value;
}

/** Returns `tags` when it is an array of non-empty strings; throws `InvalidArgumentError` otherwise. */
export function checkTags(tags: unknown): readonly string[] {
  if (
    !Array.isArray(tags) ||
    tags.some((tag) => typeof tag !== 'string' || tag === '' || tag.startsWith('__'))
  ) {
    throw new InvalidArgumentError(
      'tags',
      'expected an array of non-empty strings not starting with "__"',
    );
  }
  return tags;
}
