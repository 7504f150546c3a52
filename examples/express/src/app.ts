import { type Cache, createCache } from '@cache/core';
import { httpCache } from '@cache/http/express';
import { memoryStore } from '@cache/memory';
import express from 'express';
import type { ProductRepository } from './products.js';

/**
 * The catalog API. Reads are cached by @cache/http; writes invalidate the tags of what they
 * change, so the next read is fresh.
 */
export function createApp(
  products: ProductRepository,
  cache: Cache = defaultCache(),
): express.Express {
  const http = httpCache({
    cache,
    ttl: '5m', // unless a response says otherwise with Cache-Control: max-age
    grace: '1h', // if the repository fails, serve the last good response for up to an hour
  });
  const app = express();
  app.use(express.json());

  app.get(
    '/products',
    http.cache({ tags: ['products'], timeouts: { soft: 0 } }), // refresh in the background
    async (_req, res) => {
      res.json(await products.list());
    },
  );

  app.get(
    '/products/:id',
    http.cache({ tags: (req) => [`product:${req.params.id}`] }),
    async (req, res) => {
      const product = await products.find(Number(req.params.id));
      if (product === undefined) res.status(404).json({ error: 'no such product' });
      else res.json(product);
    },
  );

  // A write: once it has answered, GET /products/:id and GET /products are misses again.
  app.post(
    '/products/:id',
    http.invalidate((req) => [`product:${req.params.id}`, 'products']),
    async (req, res) => {
      const { price, stock } = req.body as { price?: number; stock?: number };
      const product = await products.update(Number(req.params.id), { price, stock });
      if (product === undefined) res.status(404).json({ error: 'no such product' });
      else res.json(product);
    },
  );

  // Personal: requests carry Authorization, so the route names its user and is cached per user.
  app.get(
    '/me/recommendations',
    http.cache({ user: (req) => req.get('authorization')?.replace(/^Bearer /, '') }),
    async (req, res) => {
      const all = await products.list();
      const user = req.get('authorization') ?? 'anonymous';
      res.set('Cache-Control', 'private, max-age=60');
      res.json({ for: user, products: all.filter((p) => p.stock < 50) });
    },
  );

  return app;
}

function defaultCache(): Cache {
  return createCache({ store: memoryStore({ maxEntries: 10_000 }) });
}
