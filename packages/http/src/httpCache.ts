import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Cache, InvalidArgumentError, parseDuration, parseOptionalDuration } from '@cache/core';
import type { HttpCacheOptions, RouteOptions } from './options.js';
import {
  type RequestDirectivePolicy,
  type RequestDirectives,
  requestDirectives,
} from './requestDirectives.js';
import {
  type Dispatch,
  type Revalidation,
  revalidationHeaders,
  revalidationOf,
} from './revalidation.js';
import { build, judge, type Rules, retention } from './storable.js';
import { generationTags, type TagIndex } from './tags.js';
import type { Fill, FillContext, HttpRequest, Outcome, Route, StoredResponse } from './types.js';
import { normalizeUrl, stripParams } from './url.js';
import { matchesVary, variantSuffix, varyValues } from './vary.js';

export type {
  Fill,
  FillContext,
  Filled,
  HttpRequest,
  Outcome,
  Route,
  StoredResponse,
  Verdict,
} from './types.js';

const DEFAULT_STATUSES = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414];
const DEFAULT_IGNORED_PARAMS = ['utm_*', 'fbclid', 'gclid'];
const DEFAULT_CREDENTIAL_HEADERS = [
  'authorization',
  'cookie',
  'proxy-authorization',
  'x-api-key',
  'x-auth-token',
  'x-access-token',
  'api-key',
];
const SAFE_METHODS = new Set(['OPTIONS', 'TRACE', 'CONNECT']);
// What the loader returns for a response that must not be shared; never stored (skip()).
const NOT_STORED = Symbol('not stored');
const BYPASS: Outcome = { type: 'bypass' };
const PASS: Outcome = { type: 'pass' };
const WRITE: Outcome = { type: 'write' };
const UNAVAILABLE: Outcome = { type: 'unavailable' };

/** What a URL's key holds for a varying response: the headers its variants are keyed by. */
interface VaryIndex {
  vary: string[];
}

/** What waiters get when the filler's handler failed: the response they may serve instead. */
interface Failed {
  failed: StoredResponse | undefined;
}

/** What waiters get when the response is stored only once it has gone out. */
interface Pending {
  pending: Promise<Loaded>;
}

/** What callers get while a stale response is refreshed in the background (`stale-while-revalidate`). */
interface Revalidating {
  revalidating: StoredResponse;
}

/** One request's part in filling its key: what running the handler for it needs. */
interface Job<Req> {
  route: Route<Req>;
  request: HttpRequest;
  fill: Fill;
  /** The key's base: method, origin, resource, user and tag generations. */
  base: string;
  tags: readonly string[] | undefined;
  personal: boolean;
}

type Loaded = StoredResponse | VaryIndex | Failed | Pending | Revalidating | typeof NOT_STORED;

function isResponse(value: Loaded | undefined): value is StoredResponse {
  return typeof value === 'object' && 'status' in value;
}

/**
 * The framework-agnostic engine behind `@cache/http/express`, `/koa` and `/fastify`: keys, the
 * HTTP caching rules of RFC 9111, single-flight through `getOrSet`, vary handling, revalidation and
 * invalidation. Adapters call {@link HttpCache.handle} per request and supply a {@link Fill} that
 * runs the handler.
 */
export class HttpCache<Req> {
  readonly #cache: Cache;
  readonly #tags: TagIndex;
  readonly #ignoreParams: readonly string[];
  readonly #credentials: readonly string[];
  readonly #targeted: readonly string[];
  readonly #policy: Required<RequestDirectivePolicy>;
  readonly #etag: boolean;
  readonly #defaults: RouteOptions<Req>;
  // The keys being refreshed in the background, each until the end of its stale-while-revalidate
  // window: one refresh per key at a time in this process.
  readonly #refreshing = new Map<string, number>();

  /** Prefer {@link createHttpCache}; throws {@link InvalidArgumentError} naming a bad option. */
  constructor(options: HttpCacheOptions<Req>) {
    if (options === null || typeof options !== 'object' || !(options.cache instanceof Cache)) {
      throw new InvalidArgumentError('cache', 'expected a Cache from createCache() of @cache/core');
    }
    const {
      cache,
      namespace = 'http',
      ignoreParams = DEFAULT_IGNORED_PARAMS,
      credentialHeaders = DEFAULT_CREDENTIAL_HEADERS,
      targetedCacheControl = ['cdn-cache-control'],
      requestDirectives: policy = {},
      etag = true,
    } = options;
    this.#ignoreParams = names(ignoreParams, 'ignoreParams', false);
    this.#credentials = names(credentialHeaders, 'credentialHeaders', true);
    this.#targeted = names(targetedCacheControl, 'targetedCacheControl', true);
    if (policy === null || typeof policy !== 'object') {
      throw new InvalidArgumentError('requestDirectives', 'expected an object of booleans');
    }
    this.#policy = {
      noStore: policy.noStore ?? true,
      noCache: policy.noCache ?? true,
      maxAge: policy.maxAge ?? true,
      minFresh: policy.minFresh ?? true,
      maxStale: policy.maxStale ?? true,
      onlyIfCached: policy.onlyIfCached ?? true,
    };
    this.#cache = cache.namespace(namespace);
    this.#tags = generationTags(this.#cache);
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
      ttl: parseDuration(merged.ttl ?? 0, 'ttl'),
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
   * The URL the handler should see: `url` without the parameters left out of the key
   * (`ignoreParams`), so that what the handler answers never depends on them. Returns `url` itself
   * when it has none of them.
   */
  handlerUrl(url: string): string {
    return stripParams(url, this.#ignoreParams);
  }

  /**
   * Decides how to answer one request: bypass the cache, send a stored response, or let this
   * request fill the key by running `fill` (once per key, however many identical requests wait).
   * `native` is the framework's request, handed to the route's `key`, `user`, `tags` and `condition`.
   * `dispatch` sends a request through the app in the background: with it, a stale response within
   * its `stale-while-revalidate` window is served at once and refreshed by such a request (which
   * `handle` then receives like any other); without it, the window is not used.
   * Rejects only when one of those functions throws.
   */
  async handle(
    route: Route<Req>,
    native: Req,
    request: HttpRequest,
    fill: Fill,
    dispatch?: Dispatch<Req>,
  ): Promise<Outcome> {
    const { method, headers } = request;
    if (method !== 'GET' && method !== 'HEAD') return SAFE_METHODS.has(method) ? BYPASS : WRITE;
    // A body on a GET is not part of the key: whatever it asks must not be shared.
    if (headers['content-length'] !== undefined && headers['content-length'] !== '0') return BYPASS;
    if (headers['transfer-encoding'] !== undefined) return BYPASS;
    if (route.condition !== undefined && !route.condition(native)) return BYPASS;
    const user = route.user?.(native);
    const personal = typeof user === 'string' && user !== '';
    if (!personal) {
      for (const name of this.#credentials) if (headers[name] !== undefined) return BYPASS;
    }
    const asked =
      headers['cache-control'] === undefined && headers.pragma === undefined
        ? undefined
        : requestDirectives(headers, this.#policy);
    if (asked?.noStore) return BYPASS;
    const resource =
      route.key === undefined ? normalizeUrl(request.url, this.#ignoreParams) : route.key(native);
    let base = `${request.origin ?? ''}${resource}`;
    if (personal) base += `\n@${JSON.stringify(user)}`;
    const tags = route.tags?.(native);
    if (tags !== undefined) base += await this.#tags.generation(tags);
    if (headers.range !== undefined) {
      // Answered from a stored complete GET response when there is a fresh one, else by the handler.
      const stored = method === 'GET' ? await this.#peek(`GET ${base}`, headers) : undefined;
      return stored === undefined || stored.expires <= Date.now()
        ? BYPASS
        : { type: 'hit', response: stored, range: headers.range };
    }
    if (method === 'HEAD') {
      // A stored GET response answers a HEAD (RFC 9110 section 9.3.2): its headers, no body.
      const stored = await this.#peek(`GET ${base}`, headers);
      const now = Date.now();
      if (stored !== undefined) {
        if (asked === undefined ? stored.expires > now : acceptable(stored, asked, now)) {
          return { type: 'hit', response: stored };
        }
        if (dispatch !== undefined && withinRevalidation(stored, asked, now)) {
          const variant = `r:GET ${base}${variantSuffix(stored.varyValues)}`;
          this.#revalidate(variant, stored, native, request, 'GET', dispatch);
          return { type: 'hit', response: stored };
        }
      }
      // Otherwise the HEAD is answered, and stored, apart: never as the GET response.
    }
    base = `${method} ${base}`;
    const revalidation = revalidationOf(headers);
    if (asked?.onlyIfCached) {
      const stored = await this.#peek(base, headers);
      return stored !== undefined && acceptable(stored, asked, Date.now())
        ? { type: 'hit', response: stored }
        : UNAVAILABLE;
    }
    let key = `r:${base}`;
    let own: Promise<Outcome> | undefined;
    // What running the handler for this request takes, if it comes to that.
    const job: Job<Req> = { route, request, fill, base, tags, personal };
    if (revalidation !== undefined) {
      // The request this cache sent to refresh a stale response: it runs the handler, unless it
      // no longer keys where the stale response is stored.
      const { stale, done } = revalidation;
      if (`r:${base}${variantSuffix(varyValues(stale.vary, headers))}` !== revalidation.key) {
        done();
        return PASS;
      }
      const started = this.#load(job, stale);
      started.loaded
        .then((loaded): unknown =>
          typeof loaded === 'object' && 'pending' in loaded ? loaded.pending : loaded,
        )
        .then(done, done);
      return started.own;
    }
    // At most three lookups: the URL's key, which may hold the Vary index of its variants; the
    // variant; and once more when a response shared by a filler was stored for other values.
    for (let attempt = 0; attempt < 3; attempt++) {
      let value: Loaded | undefined;
      const at = key;
      try {
        value = await this.#cache.getOrSet<Loaded>(
          key,
          (context) => {
            context.skip(); // the loader stores the response itself, under its variant key
            // Core hands the loader a stale value only while it is kept (grace).
            const stale = isResponse(context.stale) ? context.stale : undefined;
            if (
              stale !== undefined &&
              dispatch !== undefined &&
              withinRevalidation(stale, asked, Date.now())
            ) {
              this.#revalidate(at, stale, native, request, method, dispatch);
              return { revalidating: stale };
            }
            const started = this.#load(job, stale);
            own = started.own;
            return started.loaded;
          },
          route.loadOptions,
        );
      } catch {
        // A waiter whose filler timed out; the filler itself is answered below.
      }
      // This request filled the key: its answer is its own handler's, even when the waiters got
      // a stale response because the handler was slow.
      if (own !== undefined) return own;
      if (typeof value === 'object' && 'pending' in value) value = await value.pending;
      if (typeof value === 'object' && 'revalidating' in value) value = value.revalidating;
      if (value === undefined || value === NOT_STORED) return PASS;
      if ('failed' in value) return value.failed ? { type: 'hit', response: value.failed } : PASS;
      if ('pending' in value || 'revalidating' in value) return PASS;
      if (isResponse(value) && matchesVary(value.vary, value.varyValues, headers)) {
        const now = Date.now();
        // Served stale (a waiter after a soft timeout, or while it is refreshed in the background):
        // only where the response allows it.
        if (
          value.expires <= now &&
          (value.mustRevalidate ||
            (value.staleIfError <= now && !(value.staleWhileRevalidate > now)))
        ) {
          return PASS;
        }
        if (asked !== undefined && !acceptable(value, asked, now)) {
          const started = this.#load(job, value);
          started.loaded.catch(() => {}); // a failed store is reported by the cache's error event
          return started.own;
        }
        return { type: 'hit', response: value };
      }
      const variant = `r:${base}${variantSuffix(varyValues(value.vary, headers))}`;
      if (variant === key) return PASS;
      key = variant;
    }
    return PASS;
  }

  /**
   * Invalidates what a successful unsafe request (`POST`, `PUT`, `DELETE`, …) changed, as RFC 9111
   * section 4.4 says: the stored responses for its URL and for the same-origin URLs in the
   * response's `Location` and `Content-Location`, in every process sharing the store. Does nothing
   * for an error status. Responses stored under a route's `key`, `user` or `tags` are not found by
   * URL: invalidate those by tag. Rejects when the store failed.
   */
  async invalidateWritten(
    request: HttpRequest,
    status: number,
    headers: OutgoingHttpHeaders,
  ): Promise<void> {
    if (status < 200 || status >= 400) return;
    const origin = request.origin ?? '';
    const base = new URL(request.url, origin === '' ? 'http://localhost' : origin);
    const urls = [request.url];
    for (const name of ['location', 'content-location']) {
      const value = headers[name];
      if (typeof value !== 'string') continue;
      try {
        const target = new URL(value, base);
        if (target.origin === base.origin) urls.push(target.pathname + target.search);
      } catch {
        // Not a URL: nothing to invalidate.
      }
    }
    const keys = urls.flatMap((url) => {
      const resource = `${origin}${normalizeUrl(url, this.#ignoreParams)}`;
      return [`r:GET ${resource}`, `r:HEAD ${resource}`];
    });
    await this.#cache.deleteMany(keys);
  }

  /**
   * Makes every response stored with one of `tags` a miss, in every process sharing the store.
   * Rejects when the store refused the write (the cache also emits an `error` event).
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    await this.#tags.invalidate(checkTags(tags));
  }

  // Runs the handler through the adapter's fill for `job`, refreshing `stale` if there is one:
  // `own` is this request's answer, `loaded` what the key's other callers get.
  #load<Req>(
    job: Job<Req>,
    stale: StoredResponse | undefined,
  ): { own: Promise<Outcome>; loaded: Promise<Loaded> } {
    const { route, request, fill, base, tags, personal } = job;
    const rules: Rules = {
      targeted: this.#targeted,
      ttl: route.ttl,
      grace: route.grace,
      statuses: route.statuses,
      personal,
      etag: this.#etag,
    };
    const now = Date.now();
    const fallback =
      stale !== undefined && !stale.mustRevalidate && stale.staleIfError > now ? stale : undefined;
    const context: FillContext = {
      stale,
      fallback,
      validators: stale?.validators,
      judge: (status, responseHeaders) => judge(rules, status, responseHeaders, stale),
      maxBodySize: route.maxBodySize,
    };
    const filling = fill(context);
    const built = filling.then((filled) => filled && build(rules, filled, request, stale, now));
    const own = built.then(
      (response): Outcome => ({ type: 'filled', response }),
      (error: unknown): Outcome => ({ type: 'failed', error, stale: fallback }),
    );
    const loaded = filling.then(
      async (filled): Promise<Loaded> => {
        const response = await built;
        if (filled === undefined || response === undefined) return NOT_STORED;
        const { sent } = filled;
        if (sent === undefined) return this.#store(base, response, tags);
        // Judged again once the response has gone out, which happens after this request's
        // own answer: waiters wait for that, the filler does not.
        const pending = sent.then(
          (headers): Promise<Loaded> | Loaded =>
            headers !== undefined && context.judge(filled.status, headers) === 'store'
              ? this.#store(base, response, tags)
              : NOT_STORED,
          (): Loaded => NOT_STORED,
        );
        return { pending };
      },
      (): Loaded => ({ failed: fallback }),
    );
    return { own, loaded };
  }

  // Sends one request through the app to refresh the stale response stored under `key`, unless
  // one is already under way in this process.
  #revalidate(
    key: string,
    stale: StoredResponse,
    native: Req,
    request: HttpRequest,
    method: string,
    dispatch: Dispatch<Req>,
  ): void {
    const now = Date.now();
    if ((this.#refreshing.get(key) ?? 0) > now) return;
    const until = stale.staleWhileRevalidate;
    this.#refreshing.set(key, until);
    const revalidation: Revalidation = {
      key,
      stale,
      done: () => {
        if (this.#refreshing.get(key) === until) this.#refreshing.delete(key);
      },
    };
    const headers = revalidationHeaders(request.headers, revalidation);
    dispatch(native, { method, url: request.url, headers });
  }

  // The stored response for a request, fresh or stale, without running anything.
  async #peek(base: string, headers: IncomingHttpHeaders): Promise<StoredResponse | undefined> {
    let value = (await this.#cache.getEntry<Loaded>(`r:${base}`))?.value;
    if (typeof value === 'object' && !isResponse(value) && 'vary' in value) {
      const variant = `r:${base}${variantSuffix(varyValues(value.vary, headers))}`;
      value = (await this.#cache.getEntry<Loaded>(variant))?.value;
    }
    return isResponse(value) && matchesVary(value.vary, value.varyValues, headers)
      ? value
      : undefined;
  }

  async #store(
    base: string,
    response: StoredResponse,
    tags: readonly string[] | undefined,
  ): Promise<StoredResponse> {
    const ttl = Math.max(1, response.expires - Date.now());
    const grace = retention(response);
    const { vary } = response;
    const writes: Promise<unknown>[] = [
      this.#cache.set(`r:${base}${variantSuffix(response.varyValues)}`, response, {
        ttl,
        grace: grace > 0 ? grace : false,
        // Kept with the entry, so that core's invalidateTags() voids it too.
        tags: tags === undefined || tags.length === 0 ? undefined : [...tags],
      }),
    ];
    // A varying response leaves the index of its variants under the URL's key; the index
    // outlives them, so that they stay reachable while they are kept.
    if (vary.length > 0) {
      const index: VaryIndex = { vary };
      writes.push(this.#cache.set(`r:${base}`, index, { ttl: ttl + grace, grace: false }));
    }
    await Promise.all(writes);
    return response;
  }
}

// Whether a stored response satisfies the request's own directives (RFC 9111 section 5.2.1).
function acceptable(response: StoredResponse, asked: RequestDirectives, now: number): boolean {
  if (asked.noCache) return false;
  const age = response.age + now - response.storedAt;
  // `max-age=0` asks for a response no older than the request itself (a browser's reload sends
  // it): one stored within the same millisecond is 0 ms old, but is not that either.
  if (asked.maxAge !== undefined && (age > asked.maxAge || asked.maxAge === 0)) return false;
  if (asked.minFresh !== undefined && response.expires - now < asked.minFresh) return false;
  if (response.expires <= now) {
    return (
      !response.mustRevalidate &&
      ((asked.maxStale !== undefined && now - response.expires <= asked.maxStale) ||
        response.staleWhileRevalidate > now)
    );
  }
  return true;
}

// Whether a stale response may be served while it is refreshed in the background: within its
// `stale-while-revalidate` window, never `must-revalidate`, and as the request's directives allow.
function withinRevalidation(
  response: StoredResponse,
  asked: RequestDirectives | undefined,
  now: number,
): boolean {
  return (
    response.staleWhileRevalidate > now &&
    !response.mustRevalidate &&
    (asked === undefined || acceptable(response, asked, now))
  );
}

function names(list: unknown, argument: string, lower: boolean): readonly string[] {
  if (!Array.isArray(list) || list.some((name) => typeof name !== 'string' || name === '')) {
    throw new InvalidArgumentError(argument, 'expected an array of names');
  }
  return lower ? list.map((name: string) => name.toLowerCase()) : list;
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
