import { describe, expect, test } from 'vitest';
import { escapeGlob, globToRegExp, InvalidArgumentError } from '../src/index.js';

describe('globToRegExp', () => {
  test('matches the seed pattern *:{user_id}:* like Redis does', () => {
    const re = globToRegExp('*:123:*');
    expect(['user:123:profile', 'orders:123:list:page:1', 'a:123:'].every((k) => re.test(k))).toBe(
      true,
    );
    expect(['user:123', 'user:1234:profile', 'user:12:3:x'].some((k) => re.test(k))).toBe(false);
  });

  test('supports ?, sets, ranges, negation and escapes', () => {
    expect(globToRegExp('user:?').test('user:7')).toBe(true);
    expect(globToRegExp('user:?').test('user:77')).toBe(false);
    expect(globToRegExp('v[12]:*').test('v2:x')).toBe(true);
    expect(globToRegExp('v[^12]:*').test('v2:x')).toBe(false);
    expect(globToRegExp('id:[0-9]').test('id:5')).toBe(true);
    expect(globToRegExp('a\\*b').test('a*b')).toBe(true);
    expect(globToRegExp('a\\*b').test('axxb')).toBe(false);
  });

  test('treats regular-expression characters literally', () => {
    expect(globToRegExp('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  test('an escaped prefix matches only itself', () => {
    const prefix = 'weird*?[x]\\:';
    const re = globToRegExp(`${escapeGlob(prefix)}*`);
    expect(re.test(`${prefix}key`)).toBe(true);
    expect(re.test('weirdXYx]\\:key')).toBe(false);
  });

  test('rejects an empty or unterminated pattern', () => {
    expect(() => globToRegExp('')).toThrow(InvalidArgumentError);
    expect(() => globToRegExp('user:[abc')).toThrow(InvalidArgumentError);
  });
});
