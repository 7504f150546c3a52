// Every rule of @cache/http, over real HTTP, against one framework's adapter.
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type Cache, createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { HttpCacheOptions } from '../src/options.js';
import { responseSize } from '../src/size.js';
import {
  type AppSettings,
  chunked,
  type Framework,
  gate,
  type Reply,
  request,
  type TestRequest,
  type TestRoute,
  type TestServer,
} from './harness.js';

export function httpCacheSuite(framework: Framework): void {
  const servers: TestServer[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function start(
    routes: TestRoute[],
    options: Partial<HttpCacheOptions<TestRequest>> = {},
    settings?: AppSettings,
  ): Promise<{ url: string; server: TestServer; cache: Cache }> {
    const cache = options.cache ?? createCache({ store: memoryStore() });
    // Heuristic freshness for the handlers below that say nothing of it.
    const server = await framework.start({ ttl: '1m', ...options, cache }, routes, settings);
    servers.push(server);
    return { url: server.url, server, cache };
  }

  // A cached GET route whose handler counts its calls.
  function counted(
    path: string,
    reply: (request: TestRequest, call: number) => Reply | Promise<Reply>,
    cache: TestRoute['cache'] = {},
  ): TestRoute & { calls: () => number } {
    let calls = 0;
    return {
      path,
      cache,
      handler: (req) => reply(req, ++calls),
      calls: () => calls,
    };
  }

  // Holds handlers until `count` requests have reached the cache middleware: truly concurrent.
  function arrivals(count: number): { promise: Promise<void>; condition: () => boolean } {
    const all = gate();
    let arrived = 0;
    return {
      promise: all.promise,
      condition: () => {
        if (++arrived === count) all.open();
        return true;
      },
    };
  }

  describe(`${framework.name}: storing and serving`, () => {
    test('a second GET is served from the cache with the same status, headers and body', async () => {
      const route = counted('/hello', () => ({
        headers: { 'content-type': 'text/plain; charset=utf-8', 'x-app': 'demo' },
        body: 'hello world',
      }));
      const { url } = await start([route]);
      const first = await request(`${url}/hello`);
      const second = await request(`${url}/hello`);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.status).toBe(200);
      expect(second.text).toBe('hello world');
      expect(second.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(second.headers['x-app']).toBe('demo');
      expect(second.headers['content-length']).toBe('11');
      expect(second.headers.age).toBe('0');
      expect(route.calls()).toBe(1);
    });

    test('HEAD is answered from a stored GET response, without a body; a HEAD miss never stands for the GET', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted('/doc', (_, call) => ({
        headers: { 'x-call': String(call) },
        body: 'x'.repeat(42),
      }));
      const { url } = await start([route]);
      const miss = await request(`${url}/doc`, { method: 'HEAD' });
      expect([miss.headers['x-cache'], miss.body.length]).toEqual(['MISS', 0]);
      const get = await request(`${url}/doc`);
      expect([get.headers['x-cache'], get.text]).toEqual(['MISS', 'x'.repeat(42)]);
      vi.advanceTimersByTime(5_000);
      const head = await request(`${url}/doc`, { method: 'HEAD' });
      expect([head.status, head.headers['x-cache'], head.headers['x-call']]).toEqual([
        200,
        'HIT',
        '2',
      ]);
      expect([head.headers['content-length'], head.headers.age, head.body.length]).toEqual([
        '42',
        '5',
        0,
      ]);
      expect(route.calls()).toBe(2);
    });

    test('HEAD within the stale-while-revalidate window of a stored GET refreshes it in the background', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted('/page', (_, call) => ({
        headers: { 'cache-control': 'max-age=10, stale-while-revalidate=60' },
        body: `page v${call}`,
      }));
      const { url } = await start([route], { ttl: 0 });
      await request(`${url}/page`);
      vi.advanceTimersByTime(11_000);
      const head = await request(`${url}/page`, { method: 'HEAD' });
      expect([head.headers['x-cache'], head.headers.age, head.body.length]).toEqual([
        'STALE',
        '11',
        0,
      ]);
      await vi.waitFor(async () => expect((await request(`${url}/page`)).text).toBe('page v2'), {
        timeout: 10_000,
        interval: 20,
      });
      expect(route.calls()).toBe(2);
    });

    test('JSON and streamed bodies are stored and served byte for byte', async () => {
      const data = { users: [{ id: 1, name: 'Ada' }], total: 1 };
      const text = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join('');
      const json = counted('/json', () => ({ body: data }));
      const stream = counted('/stream', () => ({
        headers: { 'content-type': 'text/plain' },
        body: Readable.from(chunked(text, 100)),
      }));
      const { url } = await start([json, stream]);
      await request(`${url}/json`);
      await request(`${url}/stream`);
      const cachedJson = await request(`${url}/json`);
      const cachedStream = await request(`${url}/stream`);
      expect(cachedJson.headers['x-cache']).toBe('HIT');
      expect(cachedJson.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(cachedJson.text)).toEqual(data);
      expect(cachedStream.headers['x-cache']).toBe('HIT');
      expect(cachedStream.text).toBe(text);
      expect(json.calls() + stream.calls()).toBe(2);
    });

    test('Content-Encoding and Content-Type are kept with the encoded bytes', async () => {
      const route = counted('/gz', () => ({
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          vary: 'Accept-Encoding',
        },
        body: gzipSync(JSON.stringify({ ok: true })),
      }));
      const { url } = await start([route]);
      const headers = { 'accept-encoding': 'gzip' };
      await request(`${url}/gz`, { headers });
      const hit = await request(`${url}/gz`, { headers });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['content-encoding']).toBe('gzip');
      expect(hit.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(gunzipSync(hit.body).toString())).toEqual({ ok: true });
    });

    test('query parameters are sorted and tracking parameters dropped from the key', async () => {
      const route = counted('/items', (req) => ({ body: `items for ${req.url}` }));
      const { url } = await start([route]);
      await request(`${url}/items?b=2&a=1&utm_source=mail&fbclid=x`);
      const same = await request(`${url}/items?a=1&b=2`);
      const other = await request(`${url}/items?a=1&b=3`);
      expect(same.headers['x-cache']).toBe('HIT');
      expect(other.headers['x-cache']).toBe('MISS');
      expect(route.calls()).toBe(2);
    });

    test('a key function decides which requests share a response', async () => {
      const route = counted('/search', () => ({ body: 'results' }), {
        key: (req) => req.url.split('?')[0]!,
      });
      const { url } = await start([route]);
      await request(`${url}/search?q=1`);
      expect((await request(`${url}/search?q=2`)).headers['x-cache']).toBe('HIT');
    });

    test('a condition returning false lets the request through untouched', async () => {
      const route = counted('/maybe', () => ({ body: 'x' }), {
        condition: (req) => req.headers['x-no-cache'] === undefined,
      });
      const { url } = await start([route]);
      const skipped = await request(`${url}/maybe`, { headers: { 'x-no-cache': '1' } });
      expect(skipped.headers['x-cache']).toBeUndefined();
      expect((await request(`${url}/maybe`)).headers['x-cache']).toBe('MISS');
      expect((await request(`${url}/maybe`)).headers['x-cache']).toBe('HIT');
    });

    test('only GET and HEAD are cached', async () => {
      let calls = 0;
      const { url } = await start([
        { method: 'post', path: '/form', cache: {}, handler: () => ({ body: `${++calls}` }) },
      ]);
      await request(`${url}/form`, { method: 'POST' });
      const second = await request(`${url}/form`, { method: 'POST' });
      expect(second.text).toBe('2');
      expect(second.headers['x-cache']).toBeUndefined();
    });
  });

  describe(`${framework.name}: Cache-Control and freshness`, () => {
    test.each([['no-store'], ['no-cache'], ['private, max-age=60'], ['max-age=0']])(
      'a response with Cache-Control: %s is not stored',
      async (cacheControl) => {
        const route = counted('/cc', (_, call) => ({
          headers: { 'cache-control': cacheControl },
          body: `call ${call}`,
        }));
        const { url } = await start([route]);
        await request(`${url}/cc`);
        const second = await request(`${url}/cc`);
        expect(second.headers['x-cache']).toBe('MISS');
        expect(second.text).toBe('call 2');
      },
    );

    test('the route ttl applies when the response has no max-age, and Age counts up', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted('/ttl', (_, call) => ({ body: `call ${call}` }), { ttl: '10s' });
      const { url } = await start([route]);
      await request(`${url}/ttl`);
      vi.advanceTimersByTime(7_000);
      const aged = await request(`${url}/ttl`);
      expect(aged.headers['x-cache']).toBe('HIT');
      expect(aged.headers.age).toBe('7');
      vi.advanceTimersByTime(4_000);
      const expired = await request(`${url}/ttl`);
      expect(expired.headers['x-cache']).toBe('MISS');
      expect(expired.text).toBe('call 2');
    });

    test('s-maxage wins over max-age, which wins over the route ttl', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const shared = counted('/shared', () => ({
        headers: { 'cache-control': 'public, max-age=600, s-maxage=30' },
        body: 'x',
      }));
      const browser = counted('/browser', () => ({
        headers: { 'cache-control': 'public, max-age=120' },
        body: 'x',
      }));
      const { url } = await start([shared, browser], { ttl: '1s' });
      await request(`${url}/shared`);
      await request(`${url}/browser`);
      vi.advanceTimersByTime(29_000);
      expect((await request(`${url}/shared`)).headers['x-cache']).toBe('HIT');
      expect((await request(`${url}/browser`)).headers['x-cache']).toBe('HIT');
      vi.advanceTimersByTime(2_000);
      expect((await request(`${url}/shared`)).headers['x-cache']).not.toBe('HIT');
      expect((await request(`${url}/browser`)).headers['x-cache']).toBe('HIT');
    });

    test('ETag and Last-Modified turn conditional requests into 304 from the cache', async () => {
      const modified = 'Wed, 01 Jan 2025 00:00:00 GMT';
      const route = counted('/page', () => ({
        headers: { etag: '"v1"', 'last-modified': modified, 'cache-control': 'max-age=60' },
        body: 'page',
      }));
      const { url } = await start([route]);
      await request(`${url}/page`);
      const byTag = await request(`${url}/page`, { headers: { 'if-none-match': 'W/"v0", "v1"' } });
      const byDate = await request(`${url}/page`, {
        headers: { 'if-modified-since': 'Thu, 02 Jan 2025 00:00:00 GMT' },
      });
      const changed = await request(`${url}/page`, { headers: { 'if-none-match': '"v0"' } });
      expect(byTag.status).toBe(304);
      expect(byTag.body.length).toBe(0);
      expect(byTag.headers.etag).toBe('"v1"');
      expect(byTag.headers['cache-control']).toBe('max-age=60');
      expect(byTag.headers['x-cache']).toBe('HIT');
      expect(byDate.status).toBe(304);
      expect(changed.status).toBe(200);
      expect(changed.text).toBe('page');
      expect(route.calls()).toBe(1);
    });

    test('a cached response without a validator gets an ETag its clients can revalidate with', async () => {
      const { url } = await start([
        // A streamed body: neither framework adds an ETag of its own.
        counted('/plain', () => ({ body: Readable.from([Buffer.from('plain')]) })),
      ]);
      await request(`${url}/plain`);
      const hit = await request(`${url}/plain`);
      expect(hit.headers.etag).toMatch(/^(W\/)?".+"$/);
      const revalidated = await request(`${url}/plain`, {
        headers: { 'if-none-match': hit.headers.etag! },
      });
      expect(revalidated.status).toBe(304);
    });

    test('a conditional first request gets a 304 and still fills the cache for the next', async () => {
      const route = counted('/fresh', () => ({ headers: { etag: '"abc"' }, body: 'full body' }));
      const { url } = await start([route]);
      const first = await request(`${url}/fresh`, { headers: { 'if-none-match': '"abc"' } });
      const next = await request(`${url}/fresh`);
      expect(first.status).toBe(304);
      expect(next.status).toBe(200);
      expect(next.headers['x-cache']).toBe('HIT');
      expect(next.text).toBe('full body');
    });

    test('404 is cached by default, 201 and other uncacheable statuses are not', async () => {
      const missing = counted('/missing', () => ({ status: 404, body: 'no such thing' }));
      const created = counted('/created', () => ({ status: 201, body: 'made' }));
      const { url } = await start([missing, created]);
      await request(`${url}/missing`);
      await request(`${url}/created`);
      const second404 = await request(`${url}/missing`);
      expect(second404.status).toBe(404);
      expect(second404.headers['x-cache']).toBe('HIT');
      expect((await request(`${url}/created`)).headers['x-cache']).toBe('MISS');
    });
  });

  describe(`${framework.name}: Vary`, () => {
    test('each value of a Vary header gets its own response', async () => {
      const route = counted('/greet', (req) => ({
        headers: { vary: 'Accept-Language' },
        body: req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello',
      }));
      const { url } = await start([route]);
      const fr = { 'accept-language': 'fr' };
      const en = { 'accept-language': 'en' };
      await request(`${url}/greet`, { headers: fr });
      await request(`${url}/greet`, { headers: en });
      const frHit = await request(`${url}/greet`, { headers: fr });
      const enHit = await request(`${url}/greet`, { headers: en });
      expect([frHit.text, frHit.headers['x-cache']]).toEqual(['bonjour', 'HIT']);
      expect([enHit.text, enHit.headers['x-cache']]).toEqual(['hello', 'HIT']);
      expect(route.calls()).toBe(2);
    });

    test('concurrent cold requests for different variants each get their own', async () => {
      const all = arrivals(5);
      const route = counted(
        '/lang',
        async (req) => {
          await all.promise;
          return {
            headers: { vary: 'accept-language' },
            body: `lang=${req.headers['accept-language']}`,
          };
        },
        { condition: all.condition },
      );
      const { url } = await start([route]);
      const answers = ['de', 'fr', 'en', 'fr', 'de'].map((lang) =>
        request(`${url}/lang`, { headers: { 'accept-language': lang } }).then((a) => [
          lang,
          a.text,
        ]),
      );
      for (const [lang, text] of await Promise.all(answers)) expect(text).toBe(`lang=${lang}`);
    });

    test('Vary: * is never stored', async () => {
      const route = counted('/star', () => ({ headers: { vary: '*' }, body: 'x' }));
      const { url } = await start([route]);
      await request(`${url}/star`);
      expect((await request(`${url}/star`)).headers['x-cache']).toBe('MISS');
    });
  });

  describe(`${framework.name}: safety`, () => {
    test('a response carrying Set-Cookie is never stored nor shared, even with concurrent requests', async () => {
      const all = arrivals(5);
      const route = counted(
        '/session',
        async (_, call) => {
          await all.promise;
          return { headers: { 'set-cookie': `sid=secret-${call}` }, body: `session ${call}` };
        },
        { condition: all.condition },
      );
      const { url } = await start([route]);
      const results = await Promise.all(Array.from({ length: 5 }, () => request(`${url}/session`)));
      const cookies = results.map((a) => String(a.headers['set-cookie']));
      expect(new Set(cookies).size).toBe(5);
      for (const answer of results) {
        expect(answer.text).toBe(`session ${String(answer.headers['set-cookie']).slice(11)}`);
      }
      expect(route.calls()).toBe(5);
    });

    test('a request with Authorization or Cookie is never answered from the cache', async () => {
      const route = counted('/feed', (req) => ({
        body: req.headers.authorization
          ? `private feed of ${req.headers.authorization}`
          : 'public feed',
      }));
      const { url } = await start([route]);
      await request(`${url}/feed`);
      const withAuth = await request(`${url}/feed`, { headers: { authorization: 'Bearer alice' } });
      const withCookie = await request(`${url}/feed`, { headers: { cookie: 'sid=bob' } });
      const anonymous = await request(`${url}/feed`);
      expect(withAuth.text).toBe('private feed of Bearer alice');
      expect(withAuth.headers['x-cache']).toBeUndefined();
      expect(withCookie.headers['x-cache']).toBeUndefined();
      expect(anonymous.text).toBe('public feed');
      expect(anonymous.headers['x-cache']).toBe('HIT');
    });

    test("attack: a user's private response never reaches another user", async () => {
      const route = counted(
        '/me',
        (req) => ({
          headers: { 'cache-control': 'private, max-age=60' },
          body: `account of ${req.headers.authorization}`,
        }),
        { user: (req) => req.headers.authorization },
      );
      const { url } = await start([route]);
      const alice = { authorization: 'alice' };
      const bob = { authorization: 'bob' };
      await request(`${url}/me`, { headers: alice });
      const bobFirst = await request(`${url}/me`, { headers: bob });
      const anonymous = await request(`${url}/me`);
      const aliceAgain = await request(`${url}/me`, { headers: alice });
      expect(bobFirst.text).toBe('account of bob');
      expect(bobFirst.headers['x-cache']).toBe('MISS');
      expect(anonymous.text).toBe('account of undefined');
      expect(aliceAgain.text).toBe('account of alice');
      expect(aliceAgain.headers['x-cache']).toBe('HIT');
    });

    test('attack: concurrent users on a personal route never share a response', async () => {
      const all = arrivals(6);
      const route = counted(
        '/inbox',
        async (req) => {
          await all.promise;
          return { body: `inbox of ${req.headers.cookie}` };
        },
        { user: (req) => req.headers.cookie, condition: all.condition },
      );
      const { url } = await start([route]);
      const users = ['u=1', 'u=2', 'u=3', 'u=1', 'u=2', 'u=3'];
      const answers = users.map((cookie) =>
        request(`${url}/inbox`, { headers: { cookie } }).then((a) => [cookie, a.text]),
      );
      for (const [cookie, text] of await Promise.all(answers))
        expect(text).toBe(`inbox of ${cookie}`);
      expect(route.calls()).toBe(3);
    });

    test('attack: a header the response does not Vary on never enters the key', async () => {
      const route = counted('/home', (req) => ({
        body: `links to ${req.headers['x-forwarded-host'] ?? 'example.com'}`,
      }));
      const { url } = await start([route]);
      await request(`${url}/home`);
      const attempts: Record<string, string>[] = [
        { 'x-forwarded-host': 'evil.example' },
        { 'x-random': String(Math.random()) },
        { 'accept-language': 'fr' },
      ];
      for (const headers of attempts) {
        const answer = await request(`${url}/home`, { headers });
        expect(answer.headers['x-cache']).toBe('HIT');
        expect(answer.text).toBe('links to example.com');
      }
      expect(route.calls()).toBe(1);
    });

    test('attack: a poisoned header named by Vary stays in its own entry', async () => {
      const route = counted('/reflect', (req) => ({
        headers: { vary: 'X-Forwarded-Host' },
        body: `links to ${req.headers['x-forwarded-host'] ?? 'example.com'}`,
      }));
      const { url } = await start([route]);
      const poisoned = await request(`${url}/reflect`, {
        headers: { 'x-forwarded-host': 'evil.example' },
      });
      const normal = await request(`${url}/reflect`);
      const normalAgain = await request(`${url}/reflect`);
      expect(poisoned.text).toBe('links to evil.example');
      expect(normal.text).toBe('links to example.com');
      expect(normalAgain.text).toBe('links to example.com');
      expect(normalAgain.headers['x-cache']).toBe('HIT');
    });

    test('5xx is never stored', async () => {
      const route = counted('/flaky', (_, call) =>
        call === 1 ? { status: 503, body: 'down' } : { body: 'up' },
      );
      const { url } = await start([route]);
      expect((await request(`${url}/flaky`)).status).toBe(503);
      const second = await request(`${url}/flaky`);
      expect([second.status, second.text, second.headers['x-cache']]).toEqual([200, 'up', 'MISS']);
    });

    test('a body over maxBodySize is streamed to the client in full but not stored', async () => {
      const big = 'y'.repeat(50_000);
      const route = counted('/big', () => ({ body: Readable.from(chunked(big, 4096)) }), {
        maxBodySize: 10_000,
      });
      const { url } = await start([route]);
      const first = await request(`${url}/big`);
      const second = await request(`${url}/big`);
      expect(first.text).toBe(big);
      expect(second.text).toBe(big);
      expect(second.headers['x-cache']).toBe('MISS');
    });
  });

  describe(`${framework.name}: RFC 9111`, () => {
    test('Expires in the past, an unreadable max-age or an old Age make a response stale despite the route ttl', async () => {
      const past = new Date(Date.now() - 60_000).toUTCString();
      const routes = [
        counted('/expired', (_, call) => ({ headers: { expires: past }, body: `${call}` })),
        counted('/bad', (_, call) => ({
          headers: { 'cache-control': 'max-age=ten' },
          body: `${call}`,
        })),
        counted('/old', (_, call) => ({
          headers: { 'cache-control': 'max-age=60', age: '120' },
          body: `${call}`,
        })),
      ];
      const { url } = await start(routes, { ttl: '1h' });
      for (const path of ['/expired', '/bad', '/old']) {
        await request(`${url}${path}`);
        expect((await request(`${url}${path}`)).text).toBe('2');
      }
    });

    test('Age and Date: the age a response arrived with counts, and its Date is replayed', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const date = new Date(Date.now() - 5_000).toUTCString();
      const route = counted('/aged', () => ({
        headers: { 'cache-control': 'max-age=600', age: '30', date },
        body: 'x',
      }));
      const { url } = await start([route]);
      await request(`${url}/aged`);
      vi.advanceTimersByTime(4_000);
      const hit = await request(`${url}/aged`);
      expect([hit.headers['x-cache'], hit.headers.age, hit.headers.date]).toEqual([
        'HIT',
        '34',
        date,
      ]);
    });

    test('a stale response is revalidated with its ETag, and a 304 refreshes it', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const seen: (string | undefined)[] = [];
      const route = counted('/doc', (req, call): Reply => {
        seen.push(req.headers['if-none-match'] as string | undefined);
        if (call > 1 && req.headers['if-none-match'] === '"v1"') {
          return { status: 304, headers: { 'cache-control': 'max-age=10', 'x-version': '2' } };
        }
        return {
          headers: { 'cache-control': 'max-age=10', etag: '"v1"', 'x-version': '1' },
          body: 'doc',
        };
      });
      const { url } = await start([route]);
      await request(`${url}/doc`);
      vi.advanceTimersByTime(11_000);
      const refreshed = await request(`${url}/doc`);
      const hit = await request(`${url}/doc`);
      expect(seen).toEqual([undefined, '"v1"']);
      expect([refreshed.status, refreshed.text, refreshed.headers['x-cache']]).toEqual([
        200,
        'doc',
        'REVALIDATED',
      ]);
      expect([hit.text, hit.headers['x-version'], hit.headers['x-cache']]).toEqual([
        'doc',
        '2',
        'HIT',
      ]);
    });

    test('a successful POST invalidates its URL and the URL in its Location', async () => {
      const page = counted('/items/:id', (req, call) => ({
        headers: { 'cache-control': 'max-age=60' },
        body: `${req.params.id} ${call}`,
      }));
      const write: TestRoute = {
        method: 'post',
        path: '/items/:id',
        cache: {},
        handler: () => ({ status: 201, headers: { location: '/items/2' }, body: 'made' }),
      };
      const { url } = await start([page, write]);
      await request(`${url}/items/1`);
      await request(`${url}/items/2`);
      await request(`${url}/items/1`, { method: 'POST' });
      expect((await request(`${url}/items/1`)).headers['x-cache']).toBe('MISS');
      expect((await request(`${url}/items/2`)).headers['x-cache']).toBe('MISS');
    });

    test('a POST in one process invalidates the URL in another sharing the store', async () => {
      const routes = (): TestRoute[] => [
        counted('/doc', (_, call) => ({
          headers: { 'cache-control': 'max-age=60' },
          body: `${call}`,
        })),
        { method: 'post', path: '/doc', cache: {}, handler: () => ({ status: 204 }) },
      ];
      const store = memoryStore();
      const one = await start(routes(), { cache: createCache({ store }) });
      const two = await start(routes(), { cache: createCache({ store }) });
      const headers = { host: 'app.example' };
      await request(`${two.url}/doc`, { headers });
      expect((await request(`${two.url}/doc`, { headers })).headers['x-cache']).toBe('HIT');
      await request(`${one.url}/doc`, { method: 'POST', headers });
      expect((await request(`${two.url}/doc`, { headers })).headers['x-cache']).toBe('MISS');
    });

    test('request directives: no-cache refreshes, max-age=0 refreshes, only-if-cached answers 504 on a miss', async () => {
      const route = counted('/news', (_, call) => ({
        headers: { 'cache-control': 'max-age=60' },
        body: `news ${call}`,
      }));
      const { url } = await start([route]);
      const missing = await request(`${url}/news`, {
        headers: { 'cache-control': 'only-if-cached' },
      });
      expect(missing.status).toBe(504);
      await request(`${url}/news`);
      expect(
        (await request(`${url}/news`, { headers: { 'cache-control': 'no-cache' } })).text,
      ).toBe('news 2');
      expect((await request(`${url}/news`, { headers: { pragma: 'no-cache' } })).text).toBe(
        'news 3',
      );
      expect(
        (await request(`${url}/news`, { headers: { 'cache-control': 'max-age=0' } })).text,
      ).toBe('news 4');
      const cached = await request(`${url}/news`, {
        headers: { 'cache-control': 'only-if-cached' },
      });
      expect([cached.status, cached.text]).toEqual([200, 'news 4']);
    });

    test('max-age=0 refreshes even a response stored in the same millisecond', async () => {
      const route = counted('/instant', (_, call) => ({
        headers: { 'cache-control': 'max-age=60' },
        body: `instant ${call}`,
      }));
      const { url } = await start([route]);
      const now = vi.spyOn(Date, 'now').mockReturnValue(Date.now()); // no time passes
      try {
        expect((await request(`${url}/instant`)).text).toBe('instant 1');
        const refreshed = await request(`${url}/instant`, {
          headers: { 'cache-control': 'max-age=0' },
        });
        expect(refreshed.text).toBe('instant 2');
      } finally {
        now.mockRestore();
      }
    });

    test('requestDirectives: { noCache: false } keeps serving from the cache to clients that send no-cache', async () => {
      const route = counted('/busted', (_, call) => ({ body: `${call}` }));
      const { url } = await start([route], { requestDirectives: { noCache: false } });
      await request(`${url}/busted`);
      const hit = await request(`${url}/busted`, { headers: { 'cache-control': 'no-cache' } });
      expect([hit.text, hit.headers['x-cache']]).toEqual(['1', 'HIT']);
    });

    test('CDN-Cache-Control wins over Cache-Control', async () => {
      const route = counted('/cdn', (_, call) => ({
        headers: { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' },
        body: `${call}`,
      }));
      const { url } = await start([route]);
      await request(`${url}/cdn`);
      expect((await request(`${url}/cdn`)).headers['x-cache']).toBe('HIT');
    });

    test('302 and 307 with explicit freshness are stored', async () => {
      const routes = [302, 307].map((status) =>
        counted(`/r${status}`, () => ({
          status,
          headers: { location: '/elsewhere', 'cache-control': 'max-age=60' },
          body: '',
        })),
      );
      const { url } = await start(routes);
      for (const status of [302, 307]) {
        await request(`${url}/r${status}`);
        const hit = await request(`${url}/r${status}`);
        expect([hit.status, hit.headers['x-cache']]).toEqual([status, 'HIT']);
      }
    });

    test('a Range request on a stored response is answered with 206 from the cache', async () => {
      const route = counted('/file', () => ({
        headers: { 'cache-control': 'max-age=60' },
        body: '0123456789',
      }));
      const { url } = await start([route]);
      await request(`${url}/file`);
      const part = await request(`${url}/file`, { headers: { range: 'bytes=2-5' } });
      expect([part.status, part.text, part.headers['content-range']]).toEqual([
        206,
        '2345',
        'bytes 2-5/10',
      ]);
      expect(route.calls()).toBe(1);
    });

    test('Proxy-Authentication-Info and the fields Connection names are never stored', async () => {
      const route = counted('/auth', () => ({
        headers: { 'proxy-authentication-info': 'x', 'x-hop': '1', connection: 'x-hop' },
        body: 'x',
      }));
      const { url } = await start([route]);
      await request(`${url}/auth`);
      const hit = await request(`${url}/auth`);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['proxy-authentication-info']).toBeUndefined();
      expect(hit.headers['x-hop']).toBeUndefined();
    });
  });

  describe(`${framework.name}: defects found by attacking it`, () => {
    test('attack: a body shorter than its Content-Length is never stored', async () => {
      const route = counted('/cut', () => ({
        headers: { 'content-length': '100000' },
        body: Readable.from([Buffer.alloc(50_000, 'a')]),
      }));
      const { url } = await start([route]);
      const close = { connection: 'close' };
      const first = await request(`${url}/cut`, { headers: close, partial: true });
      const second = await request(`${url}/cut`, { headers: close, partial: true });
      expect(first.body.length).toBeLessThan(100_000);
      expect(second.headers['x-cache']).not.toBe('HIT');
      expect(route.calls()).toBe(2);
    });

    test('attack: an ignored query parameter never reaches the handler', async () => {
      const seen: string[] = [];
      const route = counted('/x', (req) => {
        seen.push(req.url);
        return { body: `page for ${req.url}` };
      });
      const { url } = await start([route]);
      const poisoned = await request(`${url}/x?utm_content=%3Cscript%3E&a=1`);
      const plain = await request(`${url}/x?a=1`);
      expect(seen).toEqual(['/x?a=1']);
      expect(poisoned.text).toBe('page for /x?a=1');
      expect([plain.text, plain.headers['x-cache']]).toEqual(['page for /x?a=1', 'HIT']);
    });

    test('attack: a request with X-Api-Key bypasses the cache unless the route keys it per user', async () => {
      const reply = (req: TestRequest) => ({
        body: `data of ${req.headers['x-api-key'] ?? 'nobody'}`,
      });
      const shared = counted('/data', reply);
      const personal = counted('/mine', reply, {
        user: (req) => req.headers['x-api-key'] as string,
      });
      const { url } = await start([shared, personal]);
      await request(`${url}/data`);
      const alice = await request(`${url}/data`, { headers: { 'x-api-key': 'alice' } });
      const bob = await request(`${url}/data`, { headers: { 'x-api-key': 'bob' } });
      const anonymous = await request(`${url}/data`);
      expect([alice.text, alice.headers['x-cache']]).toEqual(['data of alice', undefined]);
      expect(bob.text).toBe('data of bob');
      expect([anonymous.text, anonymous.headers['x-cache']]).toEqual(['data of nobody', 'HIT']);
      await request(`${url}/mine`, { headers: { 'x-api-key': 'alice' } });
      const again = await request(`${url}/mine`, { headers: { 'x-api-key': 'alice' } });
      const other = await request(`${url}/mine`, { headers: { 'x-api-key': 'bob' } });
      expect([again.text, again.headers['x-cache']]).toEqual(['data of alice', 'HIT']);
      expect([other.text, other.headers['x-cache']]).toEqual(['data of bob', 'MISS']);
    });

    test('attack: two hosts served by one app never share a response', async () => {
      const route = counted('/home', (req) => ({ body: `home of ${req.headers.host}` }));
      const { url } = await start([route]);
      await request(`${url}/home`, { headers: { host: 'a.example' } });
      const b = await request(`${url}/home`, { headers: { host: 'b.example' } });
      const a = await request(`${url}/home`, { headers: { host: 'a.example' } });
      expect([b.text, b.headers['x-cache']]).toEqual(['home of b.example', 'MISS']);
      expect([a.text, a.headers['x-cache']]).toEqual(['home of a.example', 'HIT']);
    });

    test('attack: behind a trusted proxy, an http to https redirect is never served to https', async () => {
      const route = counted('/login', (req) =>
        req.headers['x-forwarded-proto'] === 'https'
          ? { body: 'login form' }
          : { status: 301, headers: { location: 'https://app.example/login' }, body: '' },
      );
      const { url } = await start([route], {}, { trustProxy: true });
      const plain = { host: 'app.example', 'x-forwarded-proto': 'http' };
      const secure = { host: 'app.example', 'x-forwarded-proto': 'https' };
      expect((await request(`${url}/login`, { headers: plain })).status).toBe(301);
      const https = await request(`${url}/login`, { headers: secure });
      expect([https.status, https.text]).toEqual([200, 'login form']);
      const forwarded = await request(`${url}/login`, {
        headers: { ...secure, 'x-forwarded-host': 'other.example' },
      });
      expect(forwarded.headers['x-cache']).toBe('MISS');
    });

    test('attack: a GET with a body bypasses the cache', async () => {
      const route = counted('/search', (_, call) => ({ body: `results ${call}` }));
      const { url } = await start([route]);
      const withBody = await request(`${url}/search`, {
        headers: { 'content-type': 'text/plain', 'content-length': '8' },
        body: 'q=secret',
      });
      const plain = await request(`${url}/search`);
      expect(withBody.headers['x-cache']).toBeUndefined();
      expect([plain.text, plain.headers['x-cache']]).toEqual(['results 2', 'MISS']);
    });

    test('must-revalidate: a failing handler is answered with its error, never the stale response, even with grace', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted(
        '/balance',
        (_, call) =>
          call === 1
            ? { headers: { 'cache-control': 'max-age=10, must-revalidate' }, body: 'balance v1' }
            : { status: 500, body: 'down' },
        { grace: '1h' },
      );
      const { url } = await start([route]);
      await request(`${url}/balance`);
      vi.advanceTimersByTime(11_000);
      const failed = await request(`${url}/balance`);
      expect([failed.status, failed.text]).toEqual([500, 'down']);
    });

    test('memory: responseSize bounds the cache by bytes against cache-busting URLs', async () => {
      const store = memoryStore({ maxSize: 4 * 1024 * 1024, sizeOf: responseSize });
      const route = counted('/big', () => ({ body: Buffer.alloc(1_000_000, 'b') }));
      const { url } = await start([route], { cache: createCache({ store }) });
      for (let i = 0; i < 48; i++) await request(`${url}/big?bust=${i}`);
      expect(store.size).toBeLessThanOrEqual(4);
      expect((await request(`${url}/big?bust=47`)).headers['x-cache']).toBe('HIT');
    });
  });

  describe(`${framework.name}: single-flight and grace`, () => {
    test('N identical concurrent requests for a cold route run the handler once', async () => {
      const all = arrivals(20);
      const route = counted(
        '/report',
        async () => {
          await all.promise;
          return { body: 'expensive report' };
        },
        { condition: all.condition },
      );
      const { url } = await start([route]);
      const answers = await Promise.all(Array.from({ length: 20 }, () => request(`${url}/report`)));
      expect(route.calls()).toBe(1);
      expect(answers.every((a) => a.status === 200 && a.text === 'expensive report')).toBe(true);
      expect(answers.filter((a) => a.headers['x-cache'] === 'MISS')).toHaveLength(1);
    });

    test('stale-if-error: within grace, a failing handler is answered with the stale response', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted(
        '/prices',
        (_, call) => {
          if (call === 1) return { body: 'prices v1' };
          if (call === 2) return { status: 500, body: 'database down' };
          return { error: new Error('database still down') };
        },
        { ttl: '10s', grace: '1h' },
      );
      const { url } = await start([route]);
      await request(`${url}/prices`);
      vi.advanceTimersByTime(11_000);
      const onStatus = await request(`${url}/prices`);
      expect([onStatus.status, onStatus.text, onStatus.headers['x-cache']]).toEqual([
        200,
        'prices v1',
        'STALE',
      ]);
      expect(onStatus.headers.age).toBe('11');
      vi.advanceTimersByTime(60_000); // past core's backoff, so the handler is tried again
      const onThrow = await request(`${url}/prices`);
      expect([onThrow.status, onThrow.text, onThrow.headers['x-cache']]).toEqual([
        200,
        'prices v1',
        'STALE',
      ]);
      expect(route.calls()).toBe(3);
    });

    test('without grace, a failing handler answers for itself', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted(
        '/nograce',
        (_, call) => (call === 1 ? { body: 'v1' } : { status: 500, body: 'down' }),
        { ttl: '10s' },
      );
      const { url } = await start([route]);
      await request(`${url}/nograce`);
      vi.advanceTimersByTime(11_000);
      const failed = await request(`${url}/nograce`);
      expect([failed.status, failed.text]).toEqual([500, 'down']);
    });

    test('stale-while-revalidate: while one request refreshes, the others get the stale response', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const refreshing = gate();
      const release = gate();
      const route = counted(
        '/news',
        async (_, call) => {
          if (call === 2) {
            refreshing.open();
            await release.promise;
          }
          return { body: `news v${call}` };
        },
        { ttl: '10s', grace: '1h', timeouts: { soft: 0 } },
      );
      const { url } = await start([route]);
      await request(`${url}/news`);
      vi.advanceTimersByTime(11_000);
      const refresher = request(`${url}/news`);
      await refreshing.promise;
      const meanwhile = await request(`${url}/news`);
      expect([meanwhile.text, meanwhile.headers['x-cache']]).toEqual(['news v1', 'STALE']);
      release.open();
      expect((await refresher).text).toBe('news v2');
      const after = await request(`${url}/news`);
      expect([after.text, after.headers['x-cache']]).toEqual(['news v2', 'HIT']);
    });
  });

  describe(`${framework.name}: the response's stale-while-revalidate`, () => {
    // A handler whose second answer waits for the test: the refresh runs while clients are served.
    function revalidated(cacheControl: string) {
      const refreshing = gate();
      const release = gate();
      const seen: (string | undefined)[] = [];
      const route = counted('/feed', async (req, call) => {
        seen.push(req.headers['if-none-match'] as string | undefined);
        if (call === 2) {
          refreshing.open();
          await release.promise;
        }
        return {
          headers: { 'cache-control': cacheControl, etag: `"v${call}"` },
          body: `feed v${call}`,
        };
      });
      return { route, refreshing, release, seen };
    }

    test('within the window, a stale response is served at once and refreshed once in the background', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const { route, refreshing, release, seen } = revalidated(
        'max-age=10, stale-while-revalidate=60',
      );
      const { url } = await start([route], { ttl: 0 });
      await request(`${url}/feed`);
      vi.advanceTimersByTime(15_000);
      // The handler is held: these answers cannot have waited for it.
      const stale = await Promise.all([1, 2, 3].map(() => request(`${url}/feed`)));
      await refreshing.promise;
      const meanwhile = await request(`${url}/feed`);
      for (const answer of [...stale, meanwhile]) {
        expect([answer.status, answer.text, answer.headers['x-cache']]).toEqual([
          200,
          'feed v1',
          'STALE',
        ]);
        expect(answer.headers.age).toBe('15');
        expect(answer.headers.warning).toBeUndefined();
      }
      release.open();
      await vi.waitFor(
        async () => expect((await request(`${url}/feed`)).headers['x-cache']).toBe('HIT'),
        { timeout: 10_000, interval: 20 },
      );
      const fresh = await request(`${url}/feed`);
      expect([fresh.text, fresh.headers.etag, fresh.headers.age]).toEqual(['feed v2', '"v2"', '0']);
      // One refresh, sent with the stale response's validator.
      expect(route.calls()).toBe(2);
      expect(seen).toEqual([undefined, '"v1"']);
    });

    test('a 304 from the background refresh makes the stored response fresh again', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const route = counted('/doc', (req, call): Reply => {
        const headers = { 'cache-control': 'max-age=10, stale-while-revalidate=60', etag: '"v1"' };
        if (req.headers['if-none-match'] === '"v1"') return { status: 304, headers };
        return { headers: { ...headers, 'x-call': String(call) }, body: 'doc v1' };
      });
      const { url } = await start([route], { ttl: 0 });
      await request(`${url}/doc`);
      vi.advanceTimersByTime(11_000);
      expect((await request(`${url}/doc`)).headers['x-cache']).toBe('STALE');
      await vi.waitFor(() => expect(route.calls()).toBe(2), { timeout: 10_000, interval: 20 });
      await vi.waitFor(
        async () => expect((await request(`${url}/doc`)).headers['x-cache']).toBe('HIT'),
        { timeout: 10_000, interval: 20 },
      );
      const hit = await request(`${url}/doc`);
      expect([hit.text, hit.headers['x-call'], hit.headers.age]).toEqual(['doc v1', '1', '0']);
      expect(route.calls()).toBe(2);
    });

    test('the background refresh asks with the host and Vary values of the client and the stored validator, never with its conditions', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const seen: TestRequest['headers'][] = [];
      const route = counted('/greeting', (req, call) => {
        seen.push({ ...req.headers });
        return {
          headers: {
            'cache-control': 'max-age=10, stale-while-revalidate=60',
            etag: `"v${call}"`,
            vary: 'accept-language',
          },
          body: `bonjour v${call}`,
        };
      });
      const { url } = await start([route], { ttl: 0 });
      const headers = { host: 'a.example', 'accept-language': 'fr' };
      await request(`${url}/greeting`, { headers });
      vi.advanceTimersByTime(11_000);
      const stale = await request(`${url}/greeting`, {
        headers: { ...headers, 'if-none-match': '"other"', 'cache-control': 'max-stale=5' },
      });
      expect([stale.status, stale.headers['x-cache']]).toEqual([200, 'STALE']);
      await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 10_000, interval: 20 });
      const refresh = seen[1]!;
      expect([refresh.host, refresh['accept-language'], refresh['if-none-match']]).toEqual([
        'a.example',
        'fr',
        '"v1"',
      ]);
      expect(refresh['cache-control']).toBeUndefined();
      // Another host never gets the refreshed response.
      const other = await request(`${url}/greeting`, {
        headers: { host: 'b.example', 'accept-language': 'fr' },
      });
      expect(other.headers['x-cache']).toBe('MISS');
    });

    test('past the window, the request waits for the handler', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const { route, release } = revalidated('max-age=10, stale-while-revalidate=5');
      const { url } = await start([route], { ttl: 0 });
      await request(`${url}/feed`);
      vi.advanceTimersByTime(16_000);
      const waiting = request(`${url}/feed`);
      release.open();
      const answer = await waiting;
      expect([answer.text, answer.headers['x-cache']]).toEqual(['feed v2', 'MISS']);
    });

    test('must-revalidate and a request no-cache forbid serving it stale within the window', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const strict = revalidated('max-age=10, stale-while-revalidate=60, must-revalidate');
      const { url } = await start([strict.route], { ttl: 0 });
      await request(`${url}/feed`);
      vi.advanceTimersByTime(11_000);
      strict.release.open();
      const answer = await request(`${url}/feed`);
      expect([answer.text, answer.headers['x-cache']]).toEqual(['feed v2', 'MISS']);

      const lax = revalidated('max-age=10, stale-while-revalidate=60');
      const other = await start([lax.route], { ttl: 0 });
      await request(`${other.url}/feed`);
      vi.advanceTimersByTime(11_000);
      lax.release.open();
      const busted = await request(`${other.url}/feed`, {
        headers: { 'cache-control': 'no-cache' },
      });
      expect([busted.text, busted.headers['x-cache']]).toEqual(['feed v2', 'MISS']);
    });
  });

  describe(`${framework.name}: tag invalidation`, () => {
    function userRoutes(db: Map<string, string>): TestRoute[] {
      return [
        {
          path: '/users/:id',
          cache: { tags: (req) => [`user:${req.params.id}`] },
          handler: (req) => ({ body: { id: req.params.id, name: db.get(req.params.id!) } }),
        },
        {
          method: 'post',
          path: '/users/:id',
          invalidate: (req) => [`user:${req.params.id}`],
          handler: (req) => {
            if (req.headers['x-reject']) return { status: 422, body: 'invalid' };
            db.set(req.params.id!, `${db.get(req.params.id!)}!`);
            return { body: 'saved' };
          },
        },
      ];
    }

    test('POST /users/1 invalidates GET /users/1 and nothing else', async () => {
      const db = new Map([
        ['1', 'Ada'],
        ['2', 'Grace'],
      ]);
      const { url } = await start(userRoutes(db));
      await request(`${url}/users/1`);
      await request(`${url}/users/2`);
      expect((await request(`${url}/users/1`)).headers['x-cache']).toBe('HIT');
      await request(`${url}/users/1`, { method: 'POST' });
      const after = await request(`${url}/users/1`);
      expect(after.headers['x-cache']).toBe('MISS');
      expect(JSON.parse(after.text).name).toBe('Ada!');
      expect((await request(`${url}/users/2`)).headers['x-cache']).toBe('HIT');
    });

    test('a rejected write (4xx) invalidates nothing', async () => {
      const db = new Map([['1', 'Ada']]);
      const { url } = await start(userRoutes(db));
      await request(`${url}/users/1`);
      await request(`${url}/users/1`, { method: 'POST', headers: { 'x-reject': '1' } });
      expect((await request(`${url}/users/1`)).headers['x-cache']).toBe('HIT');
    });

    test('invalidating a tag in one process is seen by another sharing the store', async () => {
      const db = new Map([['1', 'Ada']]);
      const store = memoryStore();
      const one = await start(userRoutes(db), { cache: createCache({ store }) });
      const two = await start(userRoutes(db), { cache: createCache({ store }) });
      // Two processes behind one host name.
      const headers = { host: 'app.example' };
      await request(`${one.url}/users/1`, { headers });
      expect((await request(`${two.url}/users/1`, { headers })).headers['x-cache']).toBe('HIT');
      await request(`${one.url}/users/1`, { method: 'POST', headers });
      const seen = await request(`${two.url}/users/1`, { headers });
      expect(seen.headers['x-cache']).toBe('MISS');
      expect(JSON.parse(seen.text).name).toBe('Ada!');
    });

    test('invalidateTags() works from outside any route', async () => {
      const route = counted('/catalog', (_, call) => ({ body: `catalog ${call}` }), {
        tags: ['catalog'],
      });
      const { url, server } = await start([route]);
      await request(`${url}/catalog`);
      await server.invalidateTags(['catalog']);
      expect((await request(`${url}/catalog`)).text).toBe('catalog 2');
    });

    test("core's cache.invalidateTags() drops tagged responses too", async () => {
      const route = counted('/offers', (_, call) => ({ body: `offers ${call}` }), {
        tags: ['offers'],
      });
      const { url, cache } = await start([route]);
      await request(`${url}/offers`);
      await cache.invalidateTags(['offers']);
      expect((await request(`${url}/offers`)).text).toBe('offers 2');
    });
  });
}
