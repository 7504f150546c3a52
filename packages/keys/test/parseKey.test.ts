import { InvalidArgumentError } from '@cache/core';
import { describe, expect, test } from 'vitest';
import { createKeyBuilder, key, parseKey } from '../src/index.js';

// A seeded generator, so a failing case can be replayed.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [...'ab:%#/|.3A2F5 \t\n\u0000\u007f\u00a0\u3000é€{}'].concat(['😀', '%3A', '%25']);

function randomSegments(next: () => number): string[] {
  const count = 1 + Math.floor(next() * 5);
  return Array.from({ length: count }, () => {
    const length = 1 + Math.floor(next() * 12);
    return Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
  });
}

describe('parseKey', () => {
  test('splits a key into its segments', () => {
    expect(parseKey('api:v2:users:list:page:1')).toEqual([
      'api',
      'v2',
      'users',
      'list',
      'page',
      '1',
    ]);
  });

  test('undoes the escaping of key()', () => {
    expect(parseKey(key('a:b', '100%', '#1', 'x y'))).toEqual(['a:b', '100%', '#1', 'x y']);
  });

  test('gives back the segments of 2,000 random keys', () => {
    const next = random(42);
    for (let i = 0; i < 2000; i++) {
      const segments = randomSegments(next);
      expect(parseKey(key(...(segments as [string, ...string[]])))).toEqual(segments);
    }
  });

  test('never gives two different random segment lists the same key', () => {
    const next = random(7);
    const seen = new Map<string, string>();
    for (let i = 0; i < 2000; i++) {
      const segments = randomSegments(next);
      const built = key(...(segments as [string, ...string[]]));
      const identity = JSON.stringify(segments);
      expect(seen.get(built) ?? identity).toBe(identity);
      seen.set(built, identity);
    }
  });

  test('gives back the segments of random keys with another separator', () => {
    const keys = createKeyBuilder({ separator: '|' });
    const next = random(3);
    for (let i = 0; i < 500; i++) {
      const segments = randomSegments(next);
      expect(keys.parseKey(keys.key(...(segments as [string, ...string[]])))).toEqual(segments);
    }
  });

  test('returns a hashed segment as its hash', () => {
    const built = key('search', { q: 'shoes' });
    expect(parseKey(built)).toEqual(['search', built.slice('search:'.length)]);
  });

  test('rejects an empty segment', () => {
    expect(() => parseKey('user::1')).toThrow(/segment 1 is empty/);
  });

  test('rejects a malformed escape', () => {
    for (const bad of ['a%', 'a%3', 'a%zz', 'a%3a', 'a%FF']) {
      expect(() => parseKey(bad)).toThrow(InvalidArgumentError);
    }
  });

  test('rejects text that key() would have escaped', () => {
    expect(() => parseKey('issue#5')).toThrow(
      /not escaped the way key\(\) writes it \("issue%235"\)/,
    );
    expect(() => parseKey('a b')).toThrow(InvalidArgumentError);
    expect(() => parseKey('%41')).toThrow(InvalidArgumentError);
  });

  test('rejects an empty key and a key that is not a string', () => {
    for (const bad of ['', 1, undefined]) {
      expect(() => parseKey(bad as string)).toThrow(expect.objectContaining({ argument: 'key' }));
    }
  });
});
