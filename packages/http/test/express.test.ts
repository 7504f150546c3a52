import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import express from 'express';
import session from 'express-session';
import { afterEach, expect, test, vi } from 'vitest';
import { httpCache } from '../src/express.js';
import { expectOwnSession, expressFramework, gate, request } from './harness.js';
import { httpCacheSuite } from './suite.js';

httpCacheSuite(expressFramework);

const servers: http.Server[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function cached() {
  return httpCache({ cache: createCache({ store: memoryStore() }), ttl: '1m' });
}

test('express: the first requester receives a streamed response as it is written', async () => {
  const secondPart = gate();
  const app = express();
  app.get('/live', cached().cache(), async (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.write('part 1;');
    await secondPart.promise;
    res.end('part 2');
  });
  const url = await listen(app);
  const body = await new Promise<string>((resolve, reject) => {
    http.get(`${url}/live`, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text === 'part 1;') secondPart.open(); // the handler is still waiting: this was streamed
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
  });
  expect(body).toBe('part 1;part 2');
  const hit = await request(`${url}/live`);
  expect([hit.text, hit.headers['x-cache']]).toEqual(['part 1;part 2', 'HIT']);
});

test('express: headers given to res.writeHead are stored with the response', async () => {
  const app = express();
  app.get('/raw', cached().cache(), (_req, res) => {
    res.writeHead(200, 'Fine', { 'content-type': 'text/csv', 'x-rows': '2' });
    res.end('a,b\n1,2\n');
  });
  const url = await listen(app);
  await request(`${url}/raw`);
  const hit = await request(`${url}/raw`);
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.headers['content-type']).toBe('text/csv');
  expect(hit.headers['x-rows']).toBe('2');
  expect(hit.text).toBe('a,b\n1,2\n');
});

test('express: headers set before the cache ran (request ids, CORS) are not stored for other requests', async () => {
  let id = 0;
  const app = express();
  app.use((req, res, next) => {
    res.setHeader('x-request-id', String(++id));
    if (req.headers.origin) res.setHeader('access-control-allow-origin', req.headers.origin);
    next();
  });
  app.get('/shared', cached().cache(), (_req, res) => {
    res.send('shared');
  });
  const url = await listen(app);
  await request(`${url}/shared`, { headers: { origin: 'https://a.example' } });
  const hit = await request(`${url}/shared`);
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.headers['x-request-id']).toBe('2');
  expect(hit.headers['access-control-allow-origin']).toBeUndefined();
});

test('express: an error passed to next() with a stale response at hand serves the stale one', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  let fail = false;
  const app = express();
  const cache = createCache({ store: memoryStore() });
  app.get('/report', httpCache({ cache, ttl: '10s', grace: '1h' }).cache(), (_req, res, next) => {
    if (fail) next(new Error('database down'));
    else res.send('report');
  });
  app.use(
    (_error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('sorry');
    },
  );
  const url = await listen(app);
  await request(`${url}/report`);
  fail = true;
  vi.advanceTimersByTime(60_000);
  const answer = await request(`${url}/report`);
  expect([answer.status, answer.text, answer.headers['x-cache']]).toEqual([200, 'report', 'STALE']);
});

test('attack: a Set-Cookie added by express-session after the handler is never stored for another visitor', async () => {
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
  app.get('/form', cached().cache(), (req, res) => {
    const data = req.session as unknown as { csrf?: string };
    data.csrf ??= `token-${Math.random()}`;
    res.send(`<input name="csrf" value="${data.csrf}">`);
  });
  const url = await listen(app);
  await expectOwnSession(`${url}/form`);
});
