import { describe, expect, test } from 'vitest';
import { freshnessOf, httpDate, responseDirectives } from '../src/freshness.js';

describe('httpDate', () => {
  test.each([
    ['Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
  ])('reads %s', (text, ms) => {
    expect(httpDate(text)).toBe(ms);
  });

  test.each([
    ['Sun, 06 Nov 1994 08:49:37 UTC'],
    ['Sun 06 Nov 1994 08:49:37 GMT'],
    ['Sun,  06 Nov 1994 08:49:37 GMT'],
    ['Sun, 06-Nov-1994 08:49:37 GMT'],
    ['Sun, 06 Nov 1994 8:49:37 GMT'],
    ['0'],
    ['2050'],
  ])('rejects %s', (text) => {
    expect(httpDate(text)).toBeUndefined();
  });
});

describe('freshness', () => {
  const now = Date.UTC(2026, 0, 1);
  const read = (headers: Record<string, string | string[]>) =>
    freshnessOf(responseDirectives(headers, ['cdn-cache-control']), headers, now, true, 0);

  test('the first member of a list-valued Age counts, and an invalid one is ignored', () => {
    expect(read({ 'cache-control': 'max-age=60', age: '30, 7200' }).age).toBe(30_000);
    expect(read({ 'cache-control': 'max-age=60', age: ['30', '7200'] }).age).toBe(30_000);
    expect(read({ 'cache-control': 'max-age=60', age: 'abc' }).age).toBe(0);
  });

  test('a CDN-Cache-Control that is not a valid Structured Field dictionary is ignored', () => {
    expect(read({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' }).lifetime).toBe(
      60_000,
    );
    for (const invalid of ['max-age=10000, &&&&&', 'max-age="10000"']) {
      const directives = responseDirectives(
        { 'cache-control': 'no-store', 'cdn-cache-control': invalid },
        ['cdn-cache-control'],
      );
      expect(directives.has('no-store')).toBe(true);
    }
  });
});
