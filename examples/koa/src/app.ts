import { type Cache, createCache } from '@cache/core';
import { httpCache } from '@cache/http/koa';
import { memoryStore } from '@cache/memory';
import Router from '@koa/router';
import Koa from 'koa';
import type { ArticleStore } from './articles.js';

/**
 * The blog API. Reads are cached by @cache/http; a retitle invalidates the tags of the article
 * and of the list, so the next read is fresh. If the store fails, the last good page is served
 * (X-Cache: STALE) for up to a day.
 */
export function createApp(articles: ArticleStore, cache: Cache = defaultCache()): Koa {
  const http = httpCache({
    cache,
    ttl: '10m',
    grace: '1d',
    // A client's no-cache does not force a read of the store: fetch() sends it with every
    // conditional request, which the cache answers with 304 by itself.
    requestDirectives: { noCache: false },
  });
  const router = new Router();

  router.get('/articles', http.cache({ tags: ['articles'] }), async (ctx) => {
    ctx.body = (await articles.all()).map(({ slug, title }) => ({ slug, title }));
  });

  router.get(
    '/articles/:slug',
    http.cache({ tags: (ctx) => [`article:${ctx.params.slug}`] }),
    async (ctx) => {
      const article = await articles.bySlug(ctx.params.slug!);
      if (article === undefined) ctx.throw(404, 'no such article');
      ctx.set('Cache-Control', 'public, max-age=60');
      ctx.body = article;
    },
  );

  // A streamed body: buffered up to maxBodySize while it goes out, then stored.
  router.get('/export.json', http.cache({ tags: ['articles'] }), async (ctx) => {
    ctx.type = 'json';
    ctx.body = await articles.export();
  });

  router.post(
    '/articles/:slug/title',
    http.invalidate((ctx) => [`article:${ctx.params.slug}`, 'articles']),
    async (ctx) => {
      const title = (await readText(ctx)).trim();
      if (title === '') ctx.throw(422, 'send the new title as the body');
      const article = await articles.retitle(ctx.params.slug!, title);
      if (article === undefined) ctx.throw(404, 'no such article');
      ctx.body = article;
    },
  );

  const app = new Koa();
  app.use(router.routes());
  return app;
}

function defaultCache(): Cache {
  return createCache({ store: memoryStore({ maxEntries: 10_000 }) });
}

async function readText(ctx: Koa.Context): Promise<string> {
  let text = '';
  for await (const chunk of ctx.req) text += chunk;
  return text;
}
