// The README's two apps, run as written in child processes on a free port: servers do not exit
// by themselves, so each test drives its app over HTTP, then stops it.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type RunningExample, readmeExamples, runExample, startExample } from '@cache/test-suite';
import { describe, expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const [expressApp, koaApp, fastifyApp, , byteBudget] = readmeExamples(`${packageDir}/README.md`);

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  return port;
}

// Starts the example and resolves its URL once it answers.
async function serve(code: string | undefined): Promise<{ url: string; app: RunningExample }> {
  const port = await freePort();
  const app = startExample(code!, { cwd: packageDir, env: { PORT: String(port) } });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; tries < 200; tries++) {
    try {
      await fetch(url);
      return { url, app };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await app.stop();
  throw new Error(`the example never answered on ${url}:\n${app.output()}`);
}

async function xCache(url: string, init?: RequestInit): Promise<string | null> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return response.headers.get('x-cache');
}

describe("http README's examples", () => {
  test('Express: a user is a MISS, then a HIT, and a MISS again after the POST that renames it', async () => {
    const { url, app } = await serve(expressApp);
    try {
      const post = {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Ada' }),
      };
      expect(await xCache(`${url}/users/1`)).toBe('MISS');
      expect(await xCache(`${url}/users/1`)).toBe('HIT');
      await xCache(`${url}/users/1`, post);
      expect(await xCache(`${url}/users/1`)).toBe('MISS');
    } finally {
      await app.stop();
    }
  });

  test('Koa: an article is a MISS, then a HIT, and a MISS again after a POST to it', async () => {
    const { url, app } = await serve(koaApp);
    try {
      expect(await xCache(`${url}/articles/hello`)).toBe('MISS');
      expect(await xCache(`${url}/articles/hello`)).toBe('HIT');
      await xCache(`${url}/articles/hello`, { method: 'POST' });
      expect(await xCache(`${url}/articles/hello`)).toBe('MISS');
    } finally {
      await app.stop();
    }
  });

  test('Fastify: a price is a MISS, then a HIT, and a MISS again after a POST to it', async () => {
    const { url, app } = await serve(fastifyApp);
    try {
      expect(await xCache(`${url}/prices/a1`)).toBe('MISS');
      expect(await xCache(`${url}/prices/a1`)).toBe('HIT');
      await xCache(`${url}/prices/a1`, { method: 'POST' });
      expect(await xCache(`${url}/prices/a1`)).toBe('MISS');
    } finally {
      await app.stop();
    }
  });

  test('the byte budget example runs as written', async () => {
    expect(await runExample(byteBudget!, { cwd: packageDir })).toBe('function\n');
  });
});
