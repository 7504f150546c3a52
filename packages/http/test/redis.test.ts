// Two apps, an Express one and a Koa one, sharing one real Redis server through @cache/redis:
// what one stores the other serves, byte for byte, and a tag invalidated in one is gone in both.
import { gzipSync } from 'node:zlib';
import { createCache } from '@cache/core';
import { redisStore } from '@cache/redis';
import { hasRedis, startRedis } from '@cache-tooling/redis-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  expressFramework,
  koaFramework,
  request,
  type TestRoute,
  type TestServer,
} from './harness.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    closers.push(() => redis.stop());
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  test('responses stored through Redis are served by another app, and tag invalidation reaches it', async () => {
    let version = 1;
    const routes: TestRoute[] = [
      {
        path: '/products/:id',
        cache: { tags: (req) => [`product:${req.params.id}`] },
        handler: (req) => ({
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
          body: gzipSync(JSON.stringify({ id: req.params.id, version })),
        }),
      },
    ];
    const start = async (framework: typeof expressFramework): Promise<TestServer> => {
      const store = redisStore({ port: redis.port, prefix: 'http-test:' });
      const server = await framework.start({ cache: createCache({ store }), ttl: '1m' }, routes);
      closers.push(
        () => store.close(),
        () => server.close(),
      );
      return server;
    };
    const one = await start(expressFramework);
    const two = await start(koaFramework);
    // Two apps behind one host name.
    const headers = { host: 'shop.example' };
    const first = await request(`${one.url}/products/7`, { headers });
    const fromTwo = await request(`${two.url}/products/7`, { headers });
    expect(fromTwo.headers['x-cache']).toBe('HIT');
    expect(fromTwo.headers['content-encoding']).toBe('gzip');
    expect(fromTwo.body.equals(first.body)).toBe(true);
    version = 2;
    await two.invalidateTags(['product:7']);
    const fromOne = await request(`${one.url}/products/7`, { headers });
    expect(fromOne.headers['x-cache']).toBe('MISS');
    expect((await request(`${two.url}/products/7`, { headers })).body.equals(fromOne.body)).toBe(
      true,
    );
  });
});
