// A reverse proxy built on one adapter: the cache middleware in front of a forwarder to an origin,
// which is how the HTTP cache test suite sees @cache/http.
import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { httpCache as expressCache } from '../../src/express.js';
import { httpCache as fastifyCache } from '../../src/fastify.js';
import { httpCache as koaCache } from '../../src/koa.js';

/** The adapters a proxy can be built on. */
export const ADAPTERS = ['express', 'koa', 'fastify'] as const;
export type Adapter = (typeof ADAPTERS)[number];

/** A running proxy. */
export interface Proxy {
  url: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Sends the request on to the origin and resolves with its response, unread.
function forward(
  origin: string,
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  body: IncomingMessage,
): Promise<IncomingMessage> {
  const target = new URL(url, origin);
  const sent: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && name !== 'host') sent[name] = value;
  }
  return new Promise((resolve, reject) => {
    const request = http.request(target, { method, headers: sent, agent: false });
    request.on('response', resolve);
    request.on('error', reject);
    body.pipe(request);
  });
}

// The origin's response fields as a proxy passes them on: repeated lines kept (Node's parsed
// headers drop repeats of some, such as Age), without hop-by-hop fields and those Connection lists.
function responseHeaders(response: IncomingMessage): Record<string, string | string[]> {
  const dropped = new Set(HOP_BY_HOP);
  for (const name of String(response.headers.connection ?? '').split(',')) {
    dropped.add(name.trim().toLowerCase());
  }
  const headers: Record<string, string | string[]> = {};
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (dropped.has(name)) continue;
    const value = raw[i + 1]!;
    const previous = headers[name];
    headers[name] =
      previous === undefined
        ? value
        : Array.isArray(previous)
          ? [...previous, value]
          : [previous, value];
  }
  return headers;
}

async function listen(server: http.Server): Promise<Proxy> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Starts a proxy to `origin` on `adapter`, with the cache's default options. */
export async function startProxy(adapter: Adapter, origin: string): Promise<Proxy> {
  const cache = createCache({ store: memoryStore() });
  if (adapter === 'express') {
    const app = express();
    app.use(expressCache({ cache }).cache());
    app.use((req, res, next) => {
      forward(origin, req.method, req.originalUrl, req.headers, req).then((response) => {
        res.statusCode = response.statusCode!;
        for (const [name, value] of Object.entries(responseHeaders(response))) {
          res.setHeader(name, value);
        }
        response.pipe(res);
      }, next);
    });
    app.use((_error: unknown, _req: unknown, res: express.Response, _next: unknown) => {
      res.status(502).end();
    });
    return listen(http.createServer(app));
  }
  if (adapter === 'koa') {
    const app = new Koa();
    app.silent = true;
    app.use(koaCache({ cache }).cache());
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch {
        ctx.status = 502;
      }
    });
    app.use(async (ctx) => {
      const response = await forward(origin, ctx.method, ctx.originalUrl, ctx.headers, ctx.req);
      ctx.status = response.statusCode!;
      for (const [name, value] of Object.entries(responseHeaders(response))) {
        ctx.res.setHeader(name, value);
      }
      ctx.body = response;
    });
    return listen(http.createServer(app.callback()));
  }
  const app = Fastify();
  app.addHttpMethod('M-SEARCH', { hasBody: true });
  // Bodies go to the origin as they came.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.setErrorHandler((_error, _request, reply) => reply.code(502).send());
  app.addHook('onRequest', fastifyCache({ cache }).cache());
  app.all('*', async (request, reply) => {
    const response = await forward(
      origin,
      request.method,
      request.url,
      request.headers,
      request.raw,
    );
    return reply.code(response.statusCode!).headers(responseHeaders(response)).send(response);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
