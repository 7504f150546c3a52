// `pnpm --filter @cache-tooling/bench bench:http:cpu`: the server's CPU time per request (user +
// system, from process.cpuUsage() in the server process) for a constant and a cached route on
// Express, Koa and Fastify, each framework in a child process of its own, driven by autocannon
// with a fixed number of requests. CPU time per request is what a busy machine changes least:
// other processes delay the server but do not add to its CPU time. Rounds alternate the routes;
// the table gives medians and the median of the per-round ratios. BENCH_HTTP_BASELINE=<dir> adds a
// route cached by another version of packages/http/src (a copy inside packages/http, so that its
// imports resolve), paired with ours in the same rounds: `git archive <commit> packages/http/src`.
// BENCH_REQUESTS and BENCH_ROUNDS override the defaults.

import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const quick = process.env.BENCH_QUICK === '1';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? (quick ? 5_000 : 40_000));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 7));
const BASELINE = process.env.BENCH_HTTP_BASELINE;
const PATHS =
  BASELINE === undefined ? ['/constant', '/cached'] : ['/constant', '/cached', '/baseline'];
const CONNECTIONS = 10;
const FRAMEWORKS = ['express', 'koa', 'fastify'] as const;
type Framework = (typeof FRAMEWORKS)[number];

const payload = {
  products: Array.from({ length: 10 }, (_, i) => ({
    id: i + 1,
    name: `Product ${i + 1}`,
    price: 9.99 + i,
    tags: ['new', 'sale'],
  })),
};

// The adapter of `framework`: ours, or the baseline's.
async function adapter(framework: Framework, baseline: boolean): Promise<any> {
  if (!baseline) return import(`@cache/http/${framework}`);
  return import(pathToFileURL(resolve(BASELINE!, `${framework}.ts`)).href);
}

async function serve(framework: Framework): Promise<void> {
  const { createCache } = await import('@cache/core');
  const { memoryStore } = await import('@cache/memory');
  const caches = await Promise.all(
    [false, BASELINE !== undefined].map(async (baseline) =>
      (await adapter(framework, baseline)).httpCache({
        cache: createCache({ store: memoryStore() }),
        ttl: '1h',
      }),
    ),
  );
  const [ours, theirs] = caches;
  let port: number;
  if (framework === 'express') {
    const { default: express } = await import('express');
    const app = express();
    app.get('/constant', (_req, res) => {
      res.json(payload);
    });
    app.get('/cached', ours.cache(), (_req, res) => {
      res.json(payload);
    });
    if (theirs !== undefined) {
      app.get('/baseline', theirs.cache(), (_req, res) => {
        res.json(payload);
      });
    }
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  } else if (framework === 'koa') {
    const { default: Koa } = await import('koa');
    const cached = ours.cache();
    const baseline = theirs?.cache();
    const koa = new Koa();
    koa.use(async (ctx, next) => {
      if (ctx.path === '/constant') ctx.body = payload;
      else if (ctx.path === '/cached' || (ctx.path === '/baseline' && baseline)) {
        await (ctx.path === '/cached' ? cached : baseline)(ctx, async () => {
          ctx.body = payload;
        });
      } else await next();
    });
    const server = koa.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  } else {
    const { default: Fastify } = await import('fastify');
    const fastify = Fastify();
    fastify.get('/constant', async () => payload);
    fastify.get('/cached', { onRequest: ours.cache() }, async () => payload);
    if (theirs !== undefined) {
      fastify.get('/baseline', { onRequest: theirs.cache() }, async () => payload);
    }
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    port = (fastify.server.address() as AddressInfo).port;
  }
  let start = process.cpuUsage();
  process.on('message', (message: string) => {
    if (message === 'exit') process.exit(0);
    if (message === 'start') {
      start = process.cpuUsage();
      process.send!('started');
    } else {
      const used = process.cpuUsage(start);
      process.send!({ cpu: used.user + used.system });
    }
  });
  process.send!({ port });
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  for (const framework of FRAMEWORKS) {
    const child = fork(fileURLToPath(import.meta.url), ['serve', framework], {
      execArgv: ['--import', 'tsx'],
    });
    try {
      const [{ port }] = (await once(child, 'message')) as [{ port: number }];
      const url = (path: string) => `http://127.0.0.1:${port}${path}`;
      for (const path of PATHS.slice(1)) {
        await (await fetch(url(path))).text();
        if ((await fetch(url(path))).headers.get('x-cache') !== 'HIT') {
          throw new Error(`${framework}: ${path} is not served from the cache`);
        }
      }
      const measure = async (path: string, amount: number): Promise<number> => {
        child.send('start');
        await once(child, 'message');
        const result = await autocannon({ url: url(path), connections: CONNECTIONS, amount });
        if (result.errors > 0 || result.non2xx > 0) throw new Error(`${framework} ${path} failed`);
        child.send('stop');
        const [{ cpu }] = (await once(child, 'message')) as [{ cpu: number }];
        return cpu / amount;
      };
      for (const path of PATHS) await measure(path, REQUESTS);
      const cpu = PATHS.map((): number[] => []);
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < PATHS.length; k++) {
          const i = (k + round) % PATHS.length; // rotate, so no route always follows the same one
          cpu[i]!.push(await measure(PATHS[i]!, REQUESTS));
        }
      }
      const [constant, cached, baseline] = cpu as [number[], number[], number[] | undefined];
      const paired = (a: number[], b: number[]) => {
        const ratios = a.map((x, i) => x / b[i]!);
        return `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
      };
      rows.push([
        framework,
        median(constant).toFixed(1),
        median(cached).toFixed(1),
        paired(constant, cached),
        ...(baseline === undefined
          ? []
          : [median(baseline).toFixed(1), paired(constant, baseline), paired(baseline, cached)]),
      ]);
    } finally {
      child.kill();
    }
  }
  console.log(
    `### HTTP server CPU per request: ${REQUESTS} requests × ${ROUNDS} rounds, ${CONNECTIONS} connections, node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`,
  );
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  console.log(
    [
      line([
        'framework',
        'constant µs/req',
        'cached µs/req',
        'constant ÷ cached (min–max)',
        ...(BASELINE === undefined
          ? []
          : ['baseline cached µs/req', 'constant ÷ baseline', 'baseline ÷ cached']),
      ]),
      line([
        '---',
        '---:',
        '---:',
        '---:',
        ...(BASELINE === undefined ? [] : ['---:', '---:', '---:']),
      ]),
      ...rows.map(line),
    ].join('\n'),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as Framework);
else await main();
