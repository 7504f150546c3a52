import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkTags, HttpCache } from './httpCache.js';
import { handleNode, type NodeHooks } from './nodeAdapter.js';
import type { HttpCacheOptions, RouteOptions } from './options.js';
import { type BackgroundRequest, dispatchNode } from './revalidation.js';
import { afterWrite } from './unsafe.js';

export type { HttpCacheOptions, RouteOptions } from './options.js';

/**
 * Response caching for an Express 5 app. Create it once with {@link httpCache}, then put
 * {@link ExpressHttpCache.cache} before the routes to cache and {@link ExpressHttpCache.invalidate}
 * before the routes that change what they return.
 */
export class ExpressHttpCache {
  readonly #engine: HttpCache<Request>;

  /** Prefer {@link httpCache}; throws an `InvalidArgumentError` naming a bad option. */
  constructor(options: HttpCacheOptions<Request>) {
    this.#engine = new HttpCache(options);
  }

  /**
   * Middleware that answers `GET` and `HEAD` requests from the cache and stores what the route
   * answers, following `Cache-Control`, `Vary` and the safety rules; mounted with `app.use()`, it
   * also invalidates the stored responses a successful `POST`, `PUT`, `PATCH` or `DELETE`
   * changes. `options` override the defaults given to {@link httpCache} for this route. Throws an
   * `InvalidArgumentError` naming a bad option.
   *
   * @example
   * app.get('/users/:id', http.cache({ ttl: '5m', tags: (req) => [`user:${req.params.id}`] }), getUser);
   */
  cache(options?: RouteOptions<Request>): RequestHandler {
    const engine = this.#engine;
    const route = engine.route(options);
    return (req: Request, res: Response, next: NextFunction) => {
      const url = engine.handlerUrl(req.originalUrl);
      if (url !== req.originalUrl) {
        // The handler never sees a parameter that is not in the key.
        req.url = engine.handlerUrl(req.url);
        req.originalUrl = url;
      }
      const request = { method: req.method, url, headers: req.headers, origin: originOf(req) };
      handleNode(engine, route, req, request, res, HOOKS, next, undefined).catch(next);
    };
  }

  /**
   * Middleware for routes that change data (`POST /users/:id`): once the route has answered, and
   * before the response completes, it invalidates `tags` (or the tags a function of the request
   * returns), so the client's next `GET` is never served the old response. Responses with a 4xx
   * status invalidate nothing (the request changed nothing); 2xx, 3xx and 5xx do.
   *
   * @example
   * app.post('/users/:id', http.invalidate((req) => [`user:${req.params.id}`]), updateUser);
   */
  invalidate(tags: readonly string[] | ((request: Request) => readonly string[])): RequestHandler {
    const engine = this.#engine;
    if (typeof tags !== 'function') checkTags(tags);
    return (req: Request, res: Response, next: NextFunction) => {
      let resolved: readonly string[];
      try {
        resolved = typeof tags === 'function' ? checkTags(tags(req)) : tags;
      } catch (error) {
        return next(error);
      }
      afterWrite(res, (status) =>
        status >= 400 && status < 500 ? undefined : engine.invalidateTags(resolved),
      );
      next();
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
 * Creates response caching for Express over a `@cache/core` cache (any store).
 *
 * @example
 * import { createCache } from '@cache/core';
 * import { memoryStore } from '@cache/memory';
 * import { httpCache } from '@cache/http/express';
 *
 * const http = httpCache({ cache: createCache({ store: memoryStore() }), ttl: '1m' });
 * app.get('/products', http.cache(), listProducts);
 */
export function httpCache(options: HttpCacheOptions<Request>): ExpressHttpCache {
  return new ExpressHttpCache(options);
}

// The origin the client asked for, by Express' own reading (`trust proxy` decides whether
// X-Forwarded-Proto and X-Forwarded-Host count).
function originOf(req: Request): string {
  return `${req.protocol}://${req.host ?? ''}`;
}

const HOOKS: NodeHooks<Request, undefined> = {
  takeOver() {},
  // Through the outermost Express app of `req`, as a request of its own.
  dispatch(req: Request, background: BackgroundRequest): void {
    let app = req.app;
    while ((app as { parent?: typeof app }).parent !== undefined) {
      app = (app as { parent?: typeof app }).parent!;
    }
    dispatchNode(app, req, background);
  },
};
