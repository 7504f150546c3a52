import { once } from 'node:events';
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createApp } from '../src/app.js';
import { ArticleStore } from '../src/articles.js';

let server: Server;
let url: string;
let articles: ArticleStore;

beforeEach(async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'blog-')), 'articles.json');
  await copyFile(new URL('../data/articles.json', import.meta.url), file);
  articles = new ArticleStore(file, 5);
  const app = createApp(articles);
  app.silent = true;
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  vi.useRealTimers();
  server.closeAllConnections();
  server.close();
});

test('an article is read once, then served from the cache, and revalidated with its ETag', async () => {
  const first = await fetch(`${url}/articles/why-cache`);
  const second = await fetch(`${url}/articles/why-cache`);
  expect(first.headers.get('x-cache')).toBe('MISS');
  expect(second.headers.get('x-cache')).toBe('HIT');
  expect((await second.json()) as any).toMatchObject({ title: 'Why cache at all' });
  const etag = second.headers.get('etag')!;
  const revalidated = await fetch(`${url}/articles/why-cache`, {
    headers: { 'if-none-match': etag },
  });
  expect(revalidated.status).toBe(304);
  expect(articles.reads).toBe(1);
});

test('a retitle invalidates the article and the list, but not the other articles', async () => {
  await fetch(`${url}/articles/why-cache`);
  await fetch(`${url}/articles/stale-if-error`);
  await fetch(`${url}/articles`);
  const write = await fetch(`${url}/articles/why-cache/title`, {
    method: 'POST',
    body: 'Why we cache',
  });
  expect(write.status).toBe(200);
  const article = await fetch(`${url}/articles/why-cache`);
  const list = await fetch(`${url}/articles`);
  expect(article.headers.get('x-cache')).toBe('MISS');
  expect(((await article.json()) as any).title).toBe('Why we cache');
  expect(list.headers.get('x-cache')).toBe('MISS');
  expect((await fetch(`${url}/articles/stale-if-error`)).headers.get('x-cache')).toBe('HIT');
});

test('the streamed export is stored byte for byte', async () => {
  await fetch(`${url}/export.json`);
  const cached = await fetch(`${url}/export.json`);
  expect(cached.headers.get('x-cache')).toBe('HIT');
  expect(await cached.text()).toBe(await readFile(articles.file, 'utf8'));
});

test('while the database is down, the last good page is served as STALE', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  await fetch(`${url}/articles`);
  vi.advanceTimersByTime(11 * 60_000); // past the 10-minute TTL, within the day of grace
  articles.down = true;
  const answer = await fetch(`${url}/articles`);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('x-cache')).toBe('STALE');
  expect(((await answer.json()) as any)[0].slug).toBe('why-cache');
});

test('an unknown article (ctx.throw(404)) is read once, then its 404 is served from the cache', async () => {
  const first = await fetch(`${url}/articles/no-such-article`);
  const second = await fetch(`${url}/articles/no-such-article`);
  expect([first.status, first.headers.get('x-cache'), await first.text()]).toEqual([
    404,
    'MISS',
    'no such article',
  ]);
  expect([second.status, second.headers.get('x-cache'), await second.text()]).toEqual([
    404,
    'HIT',
    'no such article',
  ]);
  expect(articles.reads).toBe(1);
});
