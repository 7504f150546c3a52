import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import Koa from 'koa';
import session from 'koa-session';
import { afterEach, expect, test } from 'vitest';
import { httpCache } from '../src/koa.js';
import { expectOwnSession, koaFramework, request } from './harness.js';
import { httpCacheSuite } from './suite.js';

httpCacheSuite(koaFramework);

const servers: http.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(app: Koa): Promise<string> {
  app.silent = true;
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function cached(maxBodySize?: number) {
  return httpCache({ cache: createCache({ store: memoryStore() }), ttl: '1m', maxBodySize });
}

test('koa: headers set before the cache ran (request ids, CORS) are not stored for other requests', async () => {
  let id = 0;
  const app = new Koa();
  app.use((ctx, next) => {
    ctx.set('X-Request-Id', String(++id));
    if (ctx.get('origin')) ctx.set('Access-Control-Allow-Origin', ctx.get('origin'));
    return next();
  });
  app.use(cached().cache());
  app.use((ctx) => {
    ctx.body = 'shared';
  });
  const url = await listen(app);
  await request(`${url}/`, { headers: { origin: 'https://a.example' } });
  const hit = await request(`${url}/`);
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.headers['x-request-id']).toBe('2');
  expect(hit.headers['access-control-allow-origin']).toBeUndefined();
});

test('koa: a stream over the bound keeps streaming to its client, unstored', async () => {
  const app = new Koa();
  app.use(cached(8).cache());
  app.use((ctx) => {
    const stream = new PassThrough();
    ctx.set('Content-Length', '24');
    ctx.body = stream;
    stream.write('0123456789');
    stream.end('abcdefghijklmn');
  });
  const url = await listen(app);
  const first = await request(`${url}/`);
  const second = await request(`${url}/`);
  expect([first.text, first.headers['content-length']]).toEqual(['0123456789abcdefghijklmn', '24']);
  expect(second.headers['x-cache']).toBe('MISS');
});

test('koa: an error thrown downstream without a stale response reaches Koa as thrown', async () => {
  const app = new Koa();
  app.use(cached().cache());
  app.use((ctx) => {
    ctx.throw(418, 'short and stout');
  });
  const url = await listen(app);
  const answer = await request(`${url}/`);
  expect([answer.status, answer.text]).toEqual([418, 'short and stout']);
});

test('koa: a ctx.throw(404) is stored like a set 404, so the next request is a HIT without the handler', async () => {
  let runs = 0;
  const app = new Koa();
  app.use(cached().cache());
  app.use((ctx) => {
    runs++;
    ctx.throw(404, 'no such article', { headers: { 'Cache-Control': 'max-age=60' } });
  });
  const url = await listen(app);
  const miss = await request(`${url}/articles/nope`);
  const hit = await request(`${url}/articles/nope`);
  expect([miss.status, miss.headers['x-cache'], miss.text]).toEqual([
    404,
    'MISS',
    'no such article',
  ]);
  expect([hit.status, hit.headers['x-cache'], hit.text]).toEqual([404, 'HIT', 'no such article']);
  expect(hit.headers['cache-control']).toBe('max-age=60');
  expect(hit.headers['content-type']).toMatch(/^text\/plain/);
  expect(runs).toBe(1);
});

test('attack: a Set-Cookie added by koa-session after the handler is never stored for another visitor', async () => {
  const app = new Koa();
  app.keys = ['test'];
  app.use(session({ signed: true }, app));
  app.use(cached().cache());
  app.use((ctx) => {
    ctx.session!.csrf ??= `token-${Math.random()}`;
    ctx.body = `<input name="csrf" value="${ctx.session!.csrf}">`;
  });
  const url = await listen(app);
  await expectOwnSession(`${url}/form`);
});
