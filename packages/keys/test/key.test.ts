import { InvalidArgumentError } from '@cache/core';
import { describe, expect, test } from 'vitest';
import { createKeyBuilder, key } from '../src/index.js';

describe('key', () => {
  test('joins a type and an id with a colon', () => {
    expect(key('user', 123)).toBe('user:123');
  });

  test('joins a type, an id and a subtype', () => {
    expect(key('user', 123, 'profile')).toBe('user:123:profile');
  });

  test('joins a versioned, descriptive key', () => {
    expect(key('api', 'v2', 'users', 'list', 'page', 1)).toBe('api:v2:users:list:page:1');
  });

  test('writes numbers, bigints and booleans as text', () => {
    expect(key('n', 1.5, -0, 12n, true, false)).toBe('n:1.5:0:12:true:false');
  });

  test('escapes the separator so one segment never reads as two', () => {
    expect(key('a:b')).toBe('a%3Ab');
    expect(key('a:b')).not.toBe(key('a', 'b'));
  });

  test('escapes the escape character itself', () => {
    expect(key('100%')).toBe('100%25');
    expect(key('a%3Ab')).not.toBe(key('a:b'));
  });

  test('escapes the hash mark so text never looks like a hashed segment', () => {
    expect(key('#tag')).toBe('%23tag');
  });

  test('escapes whitespace and control characters as UTF-8 bytes', () => {
    expect(key('John Smith', 'a\nb', '\u3000')).toBe('John%20Smith:a%0Ab:%E3%80%80');
  });

  test('leaves other punctuation and non-ASCII text as it is', () => {
    expect(key('ça-va_ok.1/2', '😀')).toBe('ça-va_ok.1/2:😀');
  });

  test('hashes objects by content, whatever the order of their keys', () => {
    const filter = key('search', { q: 'shoes', page: 2 });
    expect(filter).toMatch(/^search:#[\w-]{22}$/);
    expect(key('search', { page: 2, q: 'shoes' })).toBe(filter);
    expect(key('search', { q: 'shoes', page: 3 })).not.toBe(filter);
  });

  test('hashes arrays, Maps, Sets and Dates', () => {
    for (const value of [['a'], new Map([['a', 1]]), new Set([1]), new Date(0)]) {
      expect(key('x', value)).toMatch(/^x:#[\w-]{22}$/);
    }
  });

  test('hashes a string longer than 64 characters so keys stay bounded', () => {
    expect(key('x'.repeat(64))).toBe('x'.repeat(64));
    const long = key('q', 'x'.repeat(10_000));
    expect(long).toMatch(/^q:#[\w-]{22}$/);
    expect(key('q', `${'x'.repeat(9_999)}y`)).not.toBe(long);
  });

  test('measures the length to hash against the escaped text', () => {
    expect(key(' '.repeat(21))).toBe('%20'.repeat(21));
    expect(key(' '.repeat(22))).toMatch(/^#[\w-]{22}$/);
  });

  test('keeps a hashed string apart from a hashed array holding it', () => {
    const text = 'x'.repeat(100);
    expect(key(text)).not.toBe(key([text]));
  });

  test('rejects a call without segments', () => {
    expect(() => (key as (...s: unknown[]) => string)()).toThrow(InvalidArgumentError);
  });

  test('rejects empty strings, null, undefined and non-finite numbers naming the segment', () => {
    for (const bad of ['', null, undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => key('user', bad as string)).toThrow(
        expect.objectContaining({ argument: 'segments[1]', code: 'E_INVALID_ARGUMENT' }),
      );
    }
  });

  test('rejects functions, symbols and class instances', () => {
    class Point {}
    for (const bad of [() => 1, Symbol('s'), new Point()]) {
      expect(() => key('x', bad as object)).toThrow(InvalidArgumentError);
    }
  });

  test('rejects a lone surrogate, which has no UTF-8 form', () => {
    expect(() => key('a\uD800')).toThrow(/lone surrogate/);
  });
});

describe('createKeyBuilder', () => {
  test('uses the separator it is given and escapes that one', () => {
    const keys = createKeyBuilder({ separator: '/' });
    expect(keys.key('user', 123, 'a/b:c')).toBe('user/123/a%2Fb:c');
  });

  test('hashes text past the maxSegmentLength it is given', () => {
    const keys = createKeyBuilder({ maxSegmentLength: 23 });
    expect(keys.key('x'.repeat(23))).toBe('x'.repeat(23));
    expect(keys.key('x'.repeat(24))).toMatch(/^#[\w-]{22}$/);
  });

  test('never hashes text when maxSegmentLength is Infinity', () => {
    const keys = createKeyBuilder({ maxSegmentLength: Number.POSITIVE_INFINITY });
    expect(keys.key('x'.repeat(1000))).toBe('x'.repeat(1000));
  });

  test('rejects a separator that could appear in a hash or an escape', () => {
    for (const separator of ['%', '#', '-', '_', 'a', '::', '', ' ']) {
      expect(() => createKeyBuilder({ separator })).toThrow(
        expect.objectContaining({ argument: 'options.separator' }),
      );
    }
  });

  test('rejects a maxSegmentLength shorter than a hashed segment', () => {
    for (const maxSegmentLength of [22, 0, -1, 30.5, Number.NaN]) {
      expect(() => createKeyBuilder({ maxSegmentLength })).toThrow(
        expect.objectContaining({ argument: 'options.maxSegmentLength' }),
      );
    }
  });
});
