// `pnpm --filter @cache-tooling/bench bench:http`: one Express app in a child process (so it has a
// core to itself), five routes returning the same JSON, and a constant and a cached route on Koa
// and on Fastify in the same child, driven in turn by autocannon from this process. BENCH_QUICK=1
// shortens every run (for trying the bench, not for results).

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const quick = process.env.BENCH_QUICK === '1';
const CONNECTIONS = 50;
const RUN_SECONDS = quick ? 1 : 2;
const ROUNDS = quick ? 3 : 7;
const SLOW_MS = 20;
const ROUTES = [
  ['express', '/constant', 'constant: `res.json(payload)`'],
  ['express', '/constant-text', 'constant: `res.send(prebuilt JSON text)`'],
  ['express', '/cached', '@cache/http cached route'],
  ['express', '/apicache', 'apicache cached route'],
  ['express', '/slow', `uncached route (${SLOW_MS} ms handler)`],
  ['koa', '/constant', 'Koa constant: `ctx.body = payload`'],
  ['koa', '/cached', 'Koa @cache/http cached route'],
  ['fastify', '/constant', 'Fastify constant: `return payload`'],
  ['fastify', '/cached', 'Fastify @cache/http cached route'],
] as const;
type Server = (typeof ROUTES)[number][0];

// Ten products, about 1 KB of JSON: the same body on every route.
const payload = {
  products: Array.from({ length: 10 }, (_, i) => ({
    id: i + 1,
    name: `Product ${i + 1}`,
    price: 9.99 + i,
    tags: ['new', 'sale'],
  })),
};

async function serve(): Promise<void> {
  const { default: express } = await import('express');
  const { default: apicache } = await import('apicache');
  const { createCache } = await import('@cache/core');
  const { memoryStore } = await import('@cache/memory');
  const { httpCache } = await import('@cache/http/express');
  const http = httpCache({ cache: createCache({ store: memoryStore() }), ttl: '1h' });
  const slow = async (_req: unknown, res: { json(body: unknown): void }) => {
    await sleep(SLOW_MS); // a database query
    res.json(payload);
  };
  const app = express();
  const text = JSON.stringify(payload);
  app.get('/constant', (_req, res) => {
    res.json(payload);
  });
  app.get('/constant-text', (_req, res) => {
    res.type('json').send(text);
  });
  app.get('/cached', http.cache(), slow);
  app.get('/apicache', apicache.middleware('1 hour'), slow);
  app.get('/slow', slow);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');

  const { default: Koa } = await import('koa');
  const { httpCache: koaCache } = await import('@cache/http/koa');
  const koaHttp = koaCache({ cache: createCache({ store: memoryStore() }), ttl: '1h' });
  const koa = new Koa();
  const cachedKoa = koaHttp.cache();
  koa.use(async (ctx, next) => {
    if (ctx.path === '/constant') ctx.body = payload;
    else if (ctx.path === '/cached') {
      await cachedKoa(ctx, async () => {
        await sleep(SLOW_MS);
        ctx.body = payload;
      });
    } else await next();
  });
  const koaServer = koa.listen(0, '127.0.0.1');
  await once(koaServer, 'listening');

  const { default: Fastify } = await import('fastify');
  const { httpCache: fastifyCache } = await import('@cache/http/fastify');
  const fastifyHttp = fastifyCache({ cache: createCache({ store: memoryStore() }), ttl: '1h' });
  const fastify = Fastify();
  fastify.get('/constant', async () => payload);
  fastify.get('/cached', { onRequest: fastifyHttp.cache() }, async () => {
    await sleep(SLOW_MS);
    return payload;
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });

  const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port;
  process.send!({
    ports: { express: port(server), koa: port(koaServer), fastify: port(fastify.server) },
  });
}

function load(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds });
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], {
    execArgv: ['--import', 'tsx'],
  });
  const [{ ports }] = (await once(child, 'message')) as [{ ports: Record<Server, number> }];
  const url = (server: Server, path: string) => `http://127.0.0.1:${ports[server]}${path}`;
  try {
    // The same body everywhere, and every cache filled before measuring.
    const bodies = new Set<string>();
    for (const [server, path] of ROUTES) bodies.add(await (await fetch(url(server, path))).text());
    for (const server of ['express', 'koa', 'fastify'] as const) {
      const hit = await fetch(url(server, '/cached'));
      if (hit.headers.get('x-cache') !== 'HIT') {
        throw new Error(`the ${server} cached route is not served from the cache`);
      }
    }
    if (bodies.size !== 1) throw new Error('the routes answer different bodies');
    for (const [server, path] of ROUTES) await load(url(server, path), 1);
    const samples: number[][] = ROUTES.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < ROUTES.length; k++) {
        const i = (k + round) % ROUTES.length; // rotate, so no route always follows the same one
        const [server, path] = ROUTES[i]!;
        const result = await load(url(server, path), RUN_SECONDS);
        if (result.errors > 0 || result.non2xx > 0) {
          throw new Error(`${server} ${path}: ${result.errors} errors, ${result.non2xx} non-2xx`);
        }
        samples[i]!.push(result.requests.total / (result.duration || RUN_SECONDS));
      }
    }
    const rates = samples.map(median);
    const [json, text, ours, apicache, , koaConstant, koaOurs, fastifyConstant, fastifyOurs] =
      rates as number[] as [number, number, number, number, number, number, number, number, number];
    // The faster of the two constant routes is the limit the cached route is held to.
    const constant = Math.max(json, text);
    const version = (name: string) =>
      (
        JSON.parse(
          readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
        ) as { version: string }
      ).version;
    console.log(
      `### HTTP: Express ${version('express')}, Koa ${version('koa')}, Fastify ${version('fastify')}, ${CONNECTIONS} connections, median of ${ROUNDS} × ${RUN_SECONDS} s runs (autocannon ${version('autocannon')}, apicache ${version('apicache')}, node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`,
    );
    console.log(
      table(
        ['route', 'req/s', 'vs its framework’s (faster) constant'],
        ROUTES.map(([server, , label], i) => [
          label,
          Math.round(rates[i]!).toLocaleString('en-US'),
          `${(rates[i]! / (server === 'express' ? constant : server === 'koa' ? koaConstant : fastifyConstant)).toFixed(2)}×`,
        ]),
      ),
    );
    const check = (name: string, value: number, target: number) =>
      `${name} = ${value.toFixed(2)} (target ≥ ${target}: ${value >= target ? 'met' : 'MISSED'})`;
    console.log(
      `\n${check('ours / constant', ours / constant, 0.9)}; ${check('ours / apicache', ours / apicache, 1)}; ${check('Koa ours / constant', koaOurs / koaConstant, 0.9)}; ${check('Fastify ours / constant', fastifyOurs / fastifyConstant, 0.9)}`,
    );
  } finally {
    child.kill();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

if (process.argv[2] === 'serve') await serve();
else await main();
