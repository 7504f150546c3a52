import { InvalidArgumentError } from '@cache/core';
import { describe, expect, test } from 'vitest';
import { createKeyBuilder, keyspace } from '../src/index.js';

describe('keyspace', () => {
  test('puts its name and version in front of every key', () => {
    const api = keyspace('api', { version: 2 });
    expect(api.key('users', 'list', 'page', 1)).toBe('api:v2:users:list:page:1');
  });

  test('leaves the version out when none is given', () => {
    expect(keyspace('user').key(123, 'profile')).toBe('user:123:profile');
  });

  test('accepts a string version', () => {
    expect(keyspace('api', { version: '2024-01' }).key('x')).toBe('api:v2024-01:x');
  });

  test('exposes its prefix', () => {
    expect(keyspace('api', { version: 2 }).prefix).toBe('api:v2');
  });

  test('nests inside another keyspace', () => {
    const users = keyspace('app').keyspace('users', { version: 3 });
    expect(users.prefix).toBe('app:users:v3');
    expect(users.key(123)).toBe('app:users:v3:123');
  });

  test('gives a different key for the same segments once the version changes', () => {
    expect(keyspace('api', { version: 1 }).key('x')).not.toBe(
      keyspace('api', { version: 2 }).key('x'),
    );
  });

  test('escapes its name like any segment', () => {
    expect(keyspace('a:b').key('c')).toBe('a%3Ab:c');
  });

  test('prefixes the keys of its templates', () => {
    const listKey = keyspace('api', { version: 2 }).defineKey('users:list:page:{page}');
    expect(listKey({ page: 1 })).toBe('api:v2:users:list:page:1');
  });

  test('parses its own keys without the prefix', () => {
    const api = keyspace('api', { version: 2 });
    expect(api.parseKey(api.key('users', 'a:b'))).toEqual(['users', 'a:b']);
  });

  test('rejects a key from outside it when parsing', () => {
    expect(() => keyspace('api').parseKey('web:users')).toThrow(/not in keyspace "api"/);
    expect(() => keyspace('api').parseKey('api')).toThrow(InvalidArgumentError);
  });

  test('keeps the separator and hashing threshold of its builder', () => {
    const space = createKeyBuilder({ separator: '/', maxSegmentLength: 23 }).keyspace('api');
    expect(space.key('x'.repeat(24))).toMatch(/^api\/#[\w-]{22}$/);
  });

  test('rejects a version that is negative, fractional or empty', () => {
    for (const version of [-1, 1.5, '', Number.NaN]) {
      expect(() => keyspace('api', { version })).toThrow(
        expect.objectContaining({ argument: 'options.version' }),
      );
    }
  });

  test('rejects an empty or non-string name', () => {
    for (const name of ['', 1, undefined]) {
      expect(() => keyspace(name as string)).toThrow(expect.objectContaining({ argument: 'name' }));
    }
  });
});
