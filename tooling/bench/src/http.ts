// `pnpm --filter @cache-tooling/bench bench:http`: one Express app in a child process (so it has a
// core to itself), five routes returning the same JSON, driven in turn by autocannon from this
// process. BENCH_QUICK=1 shortens every run (for trying the bench, not for results).
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
  ['/constant', 'constant: `res.json(payload)`'],
  ['/constant-text', 'constant: `res.send(prebuilt JSON text)`'],
  ['/cached', '@cache/http cached route'],
  ['/apicache', 'apicache cached route'],
  ['/slow', `uncached route (${SLOW_MS} ms handler)`],
] as const;

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
  const server = app.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as AddressInfo).port });
  });
}

function load(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds });
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], {
    execArgv: ['--conditions=@cache/source', '--import', 'tsx'],
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  const base = `http://127.0.0.1:${port}`;
  try {
    // The same body everywhere, and both caches filled before measuring.
    const bodies = new Set<string>();
    for (const [path] of ROUTES) bodies.add(await (await fetch(base + path)).text());
    const hit = await fetch(`${base}/cached`);
    if (bodies.size !== 1 || hit.headers.get('x-cache') !== 'HIT') {
      throw new Error('routes differ or the cached route is not served from the cache');
    }
    for (const [path] of ROUTES) await load(base + path, 1);
    const samples: number[][] = ROUTES.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < ROUTES.length; k++) {
        const i = (k + round) % ROUTES.length; // rotate, so no route always follows the same one
        const result = await load(base + ROUTES[i]![0], RUN_SECONDS);
        if (result.errors > 0 || result.non2xx > 0) {
          throw new Error(`${ROUTES[i]![0]}: ${result.errors} errors, ${result.non2xx} non-2xx`);
        }
        samples[i]!.push(result.requests.total / (result.duration || RUN_SECONDS));
      }
    }
    const rates = samples.map(median);
    const [json, text, ours, apicache] = rates as [number, number, number, number, number];
    // The faster of the two constant routes is the limit the cached route is held to.
    const constant = Math.max(json, text);
    const version = (name: string) =>
      (
        JSON.parse(
          readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
        ) as { version: string }
      ).version;
    console.log(
      `### HTTP: Express ${version('express')}, ${CONNECTIONS} connections, median of ${ROUNDS} × ${RUN_SECONDS} s runs (autocannon ${version('autocannon')}, apicache ${version('apicache')}, node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`,
    );
    console.log(
      table(
        ['route', 'req/s', 'vs the faster constant'],
        ROUTES.map(([, label], i) => [
          label,
          Math.round(rates[i]!).toLocaleString('en-US'),
          `${(rates[i]! / constant).toFixed(2)}×`,
        ]),
      ),
    );
    const check = (name: string, value: number, target: number) =>
      `${name} = ${value.toFixed(2)} (target ≥ ${target}: ${value >= target ? 'met' : 'MISSED'})`;
    console.log(
      `\n${check('ours / constant', ours / constant, 0.9)}; ${check('ours / apicache', ours / apicache, 1)}`,
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
