// Real Express and Koa apps on ephemeral ports, driven by the same route descriptions, and a
// plain node:http client that sends exactly the headers a test gives it.
import { once } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { Cache } from '@cache/core';
import Router from '@koa/router';
import express from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import Koa from 'koa';
import { expect } from 'vitest';
import { httpCache as expressCache } from '../src/express.js';
import { httpCache as fastifyCache } from '../src/fastify.js';
import { httpCache as koaCache } from '../src/koa.js';
import type { HttpCacheOptions, RouteOptions } from '../src/options.js';

/** The request as every test handler and option function sees it, whatever the framework. */
export interface TestRequest {
  method: string;
  url: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
}

/** What a test handler answers. */
export interface Reply {
  status?: number;
  headers?: Record<string, string | string[]>;
  /** A string or Buffer is sent as is, a Readable is streamed, anything else is sent as JSON. */
  body?: unknown;
  /** Throw this instead of answering. */
  error?: Error;
}

export interface TestRoute {
  method?: 'get' | 'post';
  path: string;
  /** Cache this route (with these options). */
  cache?: RouteOptions<TestRequest>;
  /** Invalidate these tags after this route. */
  invalidate?: (request: TestRequest) => string[];
  handler(request: TestRequest): Reply | Promise<Reply>;
}

export interface TestServer {
  url: string;
  invalidateTags(tags: string[]): Promise<void>;
  close(): Promise<void>;
}

/** How the app itself is set up. */
export interface AppSettings {
  /** Trust X-Forwarded-* headers (Express `trust proxy`, Koa `app.proxy`, Fastify `trustProxy`). */
  trustProxy?: boolean;
}

export interface Framework {
  name: 'express' | 'koa' | 'fastify';
  start(
    options: HttpCacheOptions<TestRequest>,
    routes: TestRoute[],
    settings?: AppSettings,
  ): Promise<TestServer>;
}

// Turns options written against TestRequest into options of one framework's request type.
function adapt<Req>(
  options: RouteOptions<TestRequest> | undefined,
  toTest: (request: Req) => TestRequest,
): RouteOptions<Req> {
  const { key, user, tags, condition, ...rest } = options ?? {};
  return {
    ...rest,
    key: key && ((request) => key(toTest(request))),
    user: user && ((request) => user(toTest(request))),
    tags: typeof tags === 'function' ? (request) => tags(toTest(request)) : tags,
    condition: condition && ((request) => condition(toTest(request))),
  };
}

async function serve(
  listener: http.RequestListener,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const expressFramework: Framework = {
  name: 'express',
  async start(options, routes, settings = {}) {
    const toTest = (req: express.Request): TestRequest => ({
      method: req.method,
      url: req.originalUrl,
      params: req.params as Record<string, string>,
      headers: req.headers,
    });
    const cache = expressCache({ ...adapt(options, toTest), cache: options.cache });
    const app = express();
    app.set('trust proxy', settings.trustProxy === true);
    for (const route of routes) {
      const middleware: express.RequestHandler[] = [];
      if (route.cache) middleware.push(cache.cache(adapt(route.cache, toTest)));
      if (route.invalidate) {
        const { invalidate } = route;
        middleware.push(cache.invalidate((req) => invalidate(toTest(req))));
      }
      app[route.method ?? 'get'](route.path, ...middleware, async (req, res) => {
        const reply = await route.handler(toTest(req));
        if (reply.error) throw reply.error;
        res.status(reply.status ?? 200);
        if (reply.headers) res.set(reply.headers);
        const { body } = reply;
        if (body instanceof Readable) body.pipe(res);
        else if (typeof body === 'string' || Buffer.isBuffer(body)) res.send(body);
        else if (body === undefined) res.end();
        else res.json(body);
      });
    }
    const server = await serve(app);
    return { ...server, invalidateTags: (tags) => cache.invalidateTags(tags) };
  },
};

export const koaFramework: Framework = {
  name: 'koa',
  async start(options, routes, settings = {}) {
    const toTest = (ctx: Koa.Context): TestRequest => ({
      method: ctx.method,
      url: ctx.originalUrl,
      params: (ctx as Koa.Context & { params?: Record<string, string> }).params ?? {},
      headers: ctx.req.headers,
    });
    const cache = koaCache({ ...adapt(options, toTest), cache: options.cache });
    const app = new Koa();
    app.silent = true;
    app.proxy = settings.trustProxy === true;
    const router = new Router();
    for (const route of routes) {
      const middleware: Koa.Middleware[] = [];
      if (route.cache) middleware.push(cache.cache(adapt(route.cache, toTest)));
      if (route.invalidate) {
        const { invalidate } = route;
        middleware.push(cache.invalidate((ctx) => invalidate(toTest(ctx))));
      }
      router[route.method ?? 'get'](route.path, ...middleware, async (ctx: Koa.Context) => {
        const reply = await route.handler(toTest(ctx));
        if (reply.error) throw reply.error;
        ctx.status = reply.status ?? 200;
        if (reply.headers) ctx.set(reply.headers);
        if (reply.body !== undefined) ctx.body = reply.body;
      });
    }
    app.use(router.routes());
    const server = await serve(app.callback());
    return { ...server, invalidateTags: (tags) => cache.invalidateTags(tags) };
  },
};

export const fastifyFramework: Framework = {
  name: 'fastify',
  async start(options, routes, settings = {}) {
    const toTest = (req: FastifyRequest): TestRequest => ({
      method: req.method,
      url: req.url,
      params: req.params as Record<string, string>,
      headers: req.headers,
    });
    const cache = fastifyCache({ ...adapt(options, toTest), cache: options.cache });
    const app = Fastify({ trustProxy: settings.trustProxy === true });
    for (const route of routes) {
      const onRequest = [];
      if (route.cache) onRequest.push(cache.cache(adapt(route.cache, toTest)));
      if (route.invalidate) {
        const { invalidate } = route;
        onRequest.push(cache.invalidate((req) => invalidate(toTest(req))));
      }
      app.route({
        method: (route.method ?? 'get').toUpperCase() as 'GET' | 'POST',
        url: route.path,
        onRequest,
        handler: async (req, reply) => {
          const answer = await route.handler(toTest(req));
          if (answer.error) throw answer.error;
          reply.code(answer.status ?? 200);
          if (answer.headers) reply.headers(answer.headers);
          return reply.send(answer.body);
        },
      });
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      invalidateTags: (tags) => cache.invalidateTags(tags),
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
};

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/**
 * Sends one request over a new connection and reads the whole answer. With `partial`, a
 * response cut short resolves with what arrived instead of rejecting.
 */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    partial?: boolean;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      const done = () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString() });
      };
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', options.partial ? done : reject);
      res.on('end', done);
    });
    req.end(options.body);
  });
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Splits text into Buffers of `size` bytes, for stream bodies. */
export function chunked(text: string, size: number): Buffer[] {
  const buffer = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) parts.push(buffer.subarray(i, i + size));
  return parts;
}

export type { Cache };

/** Two visitors without a cookie get a session each: the second never gets the first one's page. */
export async function expectOwnSession(url: string): Promise<void> {
  const alice = await request(url);
  const bob = await request(url);
  expect(alice.headers['set-cookie']).toBeDefined();
  expect(bob.headers['x-cache']).not.toBe('HIT');
  expect(bob.text).not.toBe(alice.text);
  expect(bob.headers['set-cookie']).toBeDefined();
}
