import { parse } from 'node:querystring';
import type {
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
} from 'fastify';
import { checkTags, HttpCache } from './httpCache.js';
import { handleNode, type NodeHooks, type Step } from './nodeAdapter.js';
import type { HttpCacheOptions, RouteOptions } from './options.js';
import { dispatchNode } from './revalidation.js';
import { afterWrite } from './unsafe.js';

export type { HttpCacheOptions, RouteOptions } from './options.js';

/**
 * Response caching for a Fastify 5 app. Create it once with {@link httpCache}, then give
 * {@link FastifyHttpCache.cache} as the `onRequest` hook of the routes to cache (or of the whole
 * app) and {@link FastifyHttpCache.invalidate} to the routes that change what they return.
 */
export class FastifyHttpCache {
  readonly #engine: HttpCache<FastifyRequest>;

  /** Prefer {@link httpCache}; throws an `InvalidArgumentError` naming a bad option. */
  constructor(options: HttpCacheOptions<FastifyRequest>) {
    this.#engine = new HttpCache(options);
  }

  /**
   * An `onRequest` hook that answers `GET` and `HEAD` requests from the cache and stores what the
   * route answers, following `Cache-Control`, `Vary` and the safety rules; as an app-wide hook
   * (`app.addHook('onRequest', http.cache())`), it also invalidates the stored responses a
   * successful `POST`, `PUT`, `PATCH` or `DELETE` changes. `options` override the defaults given
   * to {@link httpCache} for this route. Throws an `InvalidArgumentError` naming a bad option.
   *
   * @example
   * app.get('/users/:id', { onRequest: http.cache({ ttl: '5m' }) }, getUser);
   */
  cache(options?: RouteOptions<FastifyRequest>): onRequestHookHandler {
    const engine = this.#engine;
    const route = engine.route(options);
    return (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      const res = reply.raw;
      const url = engine.handlerUrl(req.url);
      if (url !== req.url) {
        // The handler never sees a parameter that is not in the key.
        req.raw.url = url;
        const question = url.indexOf('?');
        req.query = parse(question === -1 ? '' : url.slice(question + 1));
      }
      // Fastify's reading: X-Forwarded-Proto and X-Forwarded-Host count only with trustProxy.
      const origin = `${req.protocol}://${req.host}`;
      const request = { method: req.method, url, headers: req.headers, origin };
      handleNode(engine, route, req, request, res, HOOKS, done as Step, reply).catch(done);
    };
  }

  /**
   * An `onRequest` hook for routes that change data (`POST /users/:id`): once the route has
   * answered, and before the response completes, it invalidates `tags` (or the tags a function
   * of the request returns), so the client's next `GET` is never served the old response. A 4xx
   * status invalidates nothing; 2xx, 3xx and 5xx do.
   *
   * @example
   * app.post('/users/:id', { onRequest: http.invalidate((req) => [`user:${req.params.id}`]) }, updateUser);
   */
  invalidate(
    tags: readonly string[] | ((request: FastifyRequest) => readonly string[]),
  ): onRequestHookHandler {
    const engine = this.#engine;
    if (typeof tags !== 'function') checkTags(tags);
    return (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      let resolved: readonly string[];
      try {
        resolved = typeof tags === 'function' ? checkTags(tags(req)) : tags;
      } catch (error) {
        return done(error as Error);
      }
      afterWrite(reply.raw, (status) =>
        status >= 400 && status < 500 ? undefined : engine.invalidateTags(resolved),
      );
      done();
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
 * Creates response caching for Fastify over a `@cache/core` cache (any store).
 *
 * @example
 * import { createCache } from '@cache/core';
 * import { memoryStore } from '@cache/memory';
 * import { httpCache } from '@cache/http/fastify';
 *
 * const http = httpCache({ cache: createCache({ store: memoryStore() }), ttl: '1m' });
 * app.get('/products', { onRequest: http.cache() }, listProducts);
 */
export function httpCache(options: HttpCacheOptions<FastifyRequest>): FastifyHttpCache {
  return new FastifyHttpCache(options);
}

const HOOKS: NodeHooks<FastifyRequest, FastifyReply> = {
  takeOver: (reply) => reply.hijack(),
  // Through Fastify's router, as a request of its own.
  dispatch: (req, background) => dispatchNode(req.server.routing, req.raw, background),
};
