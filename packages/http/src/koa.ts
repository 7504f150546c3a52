import { type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, Middleware, Next } from 'koa';
import type { Conditions } from './conditional.js';
import { NOT_MODIFIED_HEADERS } from './conditional.js';
import {
  checkTags,
  type FillContext,
  type Filled,
  HttpCache,
  type StoredResponse,
} from './httpCache.js';
import {
  ageOf,
  applyValidators,
  HandlerStatusError,
  type Label,
  labelOf,
  notModified,
  ownHeaders,
  restoreConditions,
  takeConditions,
} from './nodeResponse.js';
import type { HttpCacheOptions, RouteOptions } from './options.js';
import { satisfiable } from './range.js';
import { type BackgroundRequest, dispatchNode } from './revalidation.js';

export type { HttpCacheOptions, RouteOptions } from './options.js';

/**
 * Response caching for a Koa 3 app. Create it once with {@link httpCache}, then put
 * {@link KoaHttpCache.cache} before the routes to cache and {@link KoaHttpCache.invalidate}
 * before the routes that change what they return.
 */
export class KoaHttpCache {
  readonly #engine: HttpCache<Context>;

  /** Prefer {@link httpCache}; throws an `InvalidArgumentError` naming a bad option. */
  constructor(options: HttpCacheOptions<Context>) {
    this.#engine = new HttpCache(options);
  }

  /**
   * Middleware that answers `GET` and `HEAD` requests from the cache and stores what the
   * downstream middleware answers (a Buffer, string, JSON or stream body), following
   * `Cache-Control`, `Vary` and the safety rules; in `app.use()`, it also invalidates the stored
   * responses a successful `POST`, `PUT`, `PATCH` or `DELETE` changes. `options` override the
   * defaults given to {@link httpCache} for this route. Throws an `InvalidArgumentError` naming a
   * bad option.
   *
   * @example
   * router.get('/users/:id', http.cache({ tags: (ctx) => [`user:${ctx.params.id}`] }), getUser);
   */
  cache(options?: RouteOptions<Context>): Middleware {
    const engine = this.#engine;
    const route = engine.route(options);
    return async (ctx: Context, next: Next) => {
      const headers = ctx.req.headers;
      const url = engine.handlerUrl(ctx.originalUrl);
      if (url !== ctx.originalUrl) {
        // The downstream middleware never sees a parameter that is not in the key.
        ctx.url = engine.handlerUrl(ctx.url);
        ctx.originalUrl = url;
      }
      const request = {
        method: ctx.method,
        url,
        headers,
        origin: originOf(ctx),
      };
      const conditions: Conditions = {
        ifNoneMatch: headers['if-none-match'],
        ifModifiedSince: headers['if-modified-since'],
      };
      let preexisting: OutgoingHttpHeaders = {};
      let clientError: unknown;
      const outcome = await engine.handle(
        route,
        ctx,
        request,
        async (context) => {
          takeConditions(headers);
          applyValidators(headers, context.validators);
          preexisting = { ...ctx.res.getHeaders() };
          try {
            await next();
          } catch (error) {
            // A thrown 4xx (ctx.throw(404)) is an answer, not a failure that grace should cover.
            if (statusOf(error) >= 500) throw error;
            if (!answerThrown(reset(ctx, preexisting), error, context)) {
              clientError = error;
              return undefined;
            }
          } finally {
            restoreConditions(headers, conditions);
          }
          const filled = await capture(ctx, context, preexisting);
          return filled && { ...filled, sent: sentHeaders(ctx) };
        },
        dispatch,
      );
      switch (outcome.type) {
        case 'bypass':
          return next();
        case 'write':
          await next();
          // Before the response goes out, so that the client's next request sees the change.
          await engine.invalidateWritten(request, ctx.status, ctx.res.getHeaders()).catch(noop);
          return;
        case 'pass':
          ctx.set('x-cache', 'MISS');
          return next();
        case 'unavailable':
          ctx.status = 504;
          return;
        case 'hit':
          return send(ctx, outcome.response, labelOf(outcome.response), conditions, outcome.range);
        case 'filled': {
          if (clientError !== undefined) throw clientError;
          const { response } = outcome;
          if (response === undefined) ctx.set('x-cache', 'MISS');
          else {
            const label = ctx.status === 304 ? 'REVALIDATED' : 'MISS';
            send(reset(ctx, preexisting), response, label, conditions);
          }
          return;
        }
        case 'failed':
          if (outcome.stale !== undefined) {
            return send(reset(ctx, preexisting), outcome.stale, 'STALE', conditions);
          }
          if (!(outcome.error instanceof HandlerStatusError)) throw outcome.error;
          ctx.set('x-cache', 'MISS');
      }
    };
  }

  /**
   * Middleware for routes that change data (`POST /users/:id`): after the downstream middleware
   * and before the response is sent, it invalidates `tags` (or the tags a function of the context
   * returns), so the client's next `GET` is never served the old response. A 4xx status (thrown or
   * set) invalidates nothing; 2xx, 3xx, 5xx and other errors do. A failed invalidation is reported
   * by the cache's `error` event and does not fail the request.
   *
   * @example
   * router.post('/users/:id', http.invalidate((ctx) => [`user:${ctx.params.id}`]), updateUser);
   */
  invalidate(tags: readonly string[] | ((ctx: Context) => readonly string[])): Middleware {
    const engine = this.#engine;
    if (typeof tags !== 'function') checkTags(tags);
    return async (ctx: Context, next: Next) => {
      const resolved = typeof tags === 'function' ? checkTags(tags(ctx)) : tags;
      const invalidate = (status: number) =>
        status >= 400 && status < 500 ? undefined : engine.invalidateTags(resolved).catch(noop);
      try {
        await next();
      } catch (error) {
        await invalidate(statusOf(error));
        throw error;
      }
      await invalidate(ctx.status);
    };
  }

  /**
   * Makes every response stored with one of `tags` a miss, in every process sharing the store.
   * Rejects when the store refused the write.
   */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.#engine.invalidateTags(tags);
  }
}

/**
 * Creates response caching for Koa over a `@cache/core` cache (any store).
 *
 * @example
 * import { createCache } from '@cache/core';
 * import { memoryStore } from '@cache/memory';
 * import { httpCache } from '@cache/http/koa';
 *
 * const http = httpCache({ cache: createCache({ store: memoryStore() }), ttl: '1m' });
 * router.get('/products', http.cache(), listProducts);
 */
export function httpCache(options: HttpCacheOptions<Context>): KoaHttpCache {
  return new KoaHttpCache(options);
}

// Answers a thrown client error as Koa's error handler would (the error's headers, the status
// and, when `expose` allows, the message as text), if a response of that status may be stored;
// false leaves the error to Koa.
function answerThrown(ctx: Context, error: unknown, context: FillContext): boolean {
  const status = statusOf(error);
  const { headers, expose, message } = error as {
    headers?: Record<string, string>;
    expose?: unknown;
    message?: unknown;
  };
  const own = Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  if (context.judge(status, { ...ctx.res.getHeaders(), ...own }) !== 'store') {
    return false;
  }
  ctx.set(own);
  ctx.status = status;
  ctx.type = 'text';
  ctx.body = expose === true && typeof message === 'string' ? message : STATUS_CODES[status];
  return true;
}

// Reads what the downstream middleware answered; undefined when it must not be stored.
async function capture(
  ctx: Context,
  context: FillContext,
  preexisting: OutgoingHttpHeaders,
): Promise<Filled | undefined> {
  const status = ctx.status;
  const verdict = context.judge(status, ctx.res.getHeaders());
  if (verdict === 'error') throw new HandlerStatusError(status);
  if (verdict === 'pass') return undefined;
  const headers = ownHeaders(ctx.res.getHeaders(), preexisting);
  // A 304 confirming the stale response: the stored body is kept.
  if (status === 304) return { status, headers, body: Buffer.alloc(0) };
  const body = await bodyOf(ctx, context.maxBodySize);
  if (body === undefined) return undefined;
  return { status, headers, body };
}

// The headers that go out with the response, once Koa writes them (after middleware upstream,
// such as a session adding its cookie, has run); undefined when the response never went out.
function sentHeaders(ctx: Context): Promise<OutgoingHttpHeaders | undefined> {
  const res = ctx.res;
  return new Promise((resolve) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: unknown[]) {
      res.writeHead = writeHead;
      const result = writeHead.apply(res, args as never);
      resolve(res.getHeaders());
      return result;
    } as typeof res.writeHead;
    res.once('close', () => resolve(undefined));
  });
}

// The body as Koa would send it, or undefined when it is too large or of a kind not stored.
async function bodyOf(ctx: Context, maxBodySize: number): Promise<Buffer | undefined> {
  const body: unknown = ctx.body;
  let buffer: Buffer;
  if (body === undefined || body === null) {
    // Koa answers a missing body with the status text; only a deliberately empty one is stored.
    if (ctx.status !== 204) return undefined;
    buffer = Buffer.alloc(0);
  } else if (Buffer.isBuffer(body)) buffer = body;
  else if (typeof body === 'string') buffer = Buffer.from(body);
  else if (body instanceof Readable) return readStream(ctx, body, maxBodySize);
  else if (body instanceof Blob || body instanceof ReadableStream || body instanceof Response) {
    return undefined;
  } else buffer = Buffer.from(JSON.stringify(body));
  return buffer.length > maxBodySize ? undefined : buffer;
}

// Buffers a stream body up to the bound; past it, the response goes on streaming, unstored.
async function readStream(
  ctx: Context,
  stream: Readable,
  maxBodySize: number,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator: AsyncIterator<unknown> = stream[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) return Buffer.concat(chunks);
    const chunk = Buffer.isBuffer(value) ? value : Buffer.from(value as string);
    chunks.push(chunk);
    size += chunk.length;
    if (size > maxBodySize) {
      const length = ctx.res.getHeader('content-length');
      ctx.body = Readable.from(replay(chunks, iterator));
      if (length !== undefined) ctx.res.setHeader('content-length', length);
      return undefined;
    }
  }
}

async function* replay(chunks: Buffer[], rest: AsyncIterator<unknown>): AsyncGenerator<unknown> {
  yield* chunks;
  for (;;) {
    const { value, done } = await rest.next();
    if (done) return;
    yield value;
  }
}

// Removes what the handler set, keeping the headers earlier middleware set.
function reset(ctx: Context, preexisting: OutgoingHttpHeaders): Context {
  for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name);
  for (const [name, value] of Object.entries(preexisting)) ctx.res.setHeader(name, value!);
  return ctx;
}

function send(
  ctx: Context,
  response: StoredResponse,
  label: Label,
  conditions: Conditions,
  range?: string,
): void {
  ctx.res.setHeader('age', ageOf(response));
  ctx.res.setHeader('x-cache', label);
  const part =
    range === undefined || response.status !== 200 || ctx.method !== 'GET'
      ? undefined
      : satisfiable(range, response.body.length);
  if (part !== undefined) {
    const total = response.body.length;
    ctx.status = part === 'unsatisfiable' ? 416 : 206;
    ctx.body =
      part === 'unsatisfiable' ? Buffer.alloc(0) : response.body.subarray(part[0], part[1] + 1);
    ctx.set(response.headers);
    ctx.set(
      'content-range',
      part === 'unsatisfiable' ? `bytes */${total}` : `bytes ${part[0]}-${part[1]}/${total}`,
    );
    ctx.set('content-length', String((ctx.body as Buffer).length));
    return;
  }
  if (notModified(response, conditions)) {
    ctx.status = 304;
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = response.headers[name];
      if (value !== undefined) ctx.set(name, value);
    }
    return;
  }
  ctx.status = response.status;
  const { body, headers } = response;
  const res = ctx.res;
  // Before the body, so that Koa keeps the stored Content-Type instead of guessing one.
  for (const name in headers) res.setHeader(name, headers[name]!);
  ctx.body = Buffer.isBuffer(body) ? body : Buffer.from(body);
  // After it, so that the stored Content-Length wins (a stored HEAD response has no body).
  const length = headers['content-length'];
  if (length !== undefined) res.setHeader('content-length', length);
}

// The origin as Koa reads it (`ctx.protocol`, `ctx.host`: X-Forwarded-Proto and X-Forwarded-Host
// count only with app.proxy), read from the socket and Host header when that is all Koa reads.
function originOf(ctx: Context): string {
  const { req } = ctx;
  const host = req.headers.host;
  if (
    !ctx.app.proxy &&
    req.httpVersionMajor < 2 &&
    host !== undefined &&
    host !== '' &&
    !host.includes(',') &&
    !host.includes('@')
  ) {
    return `${(req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'}://${host.trim()}`;
  }
  return `${ctx.protocol}://${ctx.host}`;
}

// Koa's request listener of each app, made once.
const listeners = new WeakMap<Context['app'], ReturnType<Context['app']['callback']>>();

// Sends a request through the app of `ctx`, as a request of its own.
function dispatch(ctx: Context, background: BackgroundRequest): void {
  let listener = listeners.get(ctx.app);
  if (listener === undefined) {
    listener = ctx.app.callback();
    listeners.set(ctx.app, listener);
  }
  dispatchNode(listener, ctx.req, background);
}

// The status Koa answers a thrown error with.
function statusOf(error: unknown): number {
  const { status, statusCode } = (error ?? {}) as { status?: unknown; statusCode?: unknown };
  const code = status ?? statusCode;
  return typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
}

function noop(): void {}
