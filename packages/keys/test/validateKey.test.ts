import { InvalidArgumentError } from '@cache/core';
import { describe, expect, test } from 'vitest';
import { assertValidKey, key, validateKey } from '../src/index.js';

describe('validateKey', () => {
  test('accepts the good keys of the key conventions', () => {
    for (const good of ['user:123', 'user:123:profile', 'api:v2:users:list:page:1']) {
      expect(validateKey(good)).toBeUndefined();
    }
  });

  test('calls a type glued to an id unclear', () => {
    expect(validateKey('u123')?.message).toBe(
      '[cache] invalid key: "u123" is unclear: the type and the id run together; write them as separate segments, as in "user:123"',
    );
  });

  test('says a single word has no structure', () => {
    expect(validateKey('user_data')?.message).toMatch(
      /"user_data" has no structure: a key needs at least 2 segments joined by ":"/,
    );
  });

  test('calls underscores used as separators an inconsistent format', () => {
    expect(validateKey('user_123_profile_data_v2')?.message).toMatch(
      /inconsistent format: "_" is used as a separator; join segments with ":", as in "user:123:profile:data:v2"/,
    );
  });

  test('returns an InvalidArgumentError about the key', () => {
    const error = validateKey('u123');
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error?.argument).toBe('key');
  });

  test('rejects an empty segment', () => {
    expect(validateKey('user::1')?.message).toMatch(/empty segment at position 1/);
  });

  test('rejects a leading or trailing separator', () => {
    expect(validateKey(':user:1')?.message).toMatch(/starts with the separator ":"/);
    expect(validateKey('user:1:')?.message).toMatch(/ends with the separator ":"/);
  });

  test('rejects whitespace and control characters naming the character', () => {
    expect(validateKey('user:John Smith')?.message).toMatch(/\(U\+0020\) at index 9/);
    expect(validateKey('user:1\n')?.message).toMatch(/U\+000A/);
    expect(validateKey('user:\u0000')?.message).toMatch(/U\+0000/);
  });

  test('rejects an empty key and a key that is not a string', () => {
    expect(validateKey('')?.message).toMatch(/cannot be empty/);
    expect(validateKey(123)?.message).toMatch(/expected a string, got 123/);
    expect(validateKey(undefined)?.message).toMatch(/got undefined/);
  });

  test('accepts keys built by key() from awkward text', () => {
    expect(validateKey(key('user', 'John Smith', 'a::b'))).toBeUndefined();
  });

  test('checks against the separator it is given', () => {
    expect(validateKey('user/123', { separator: '/' })).toBeUndefined();
    expect(validateKey('user:123', { separator: '/' })).toBeInstanceOf(InvalidArgumentError);
  });

  test('accepts single words when minSegments is 1', () => {
    expect(validateKey('health', { minSegments: 1 })).toBeUndefined();
  });

  test('asks for as many segments as minSegments says', () => {
    expect(validateKey('user:123', { minSegments: 3 })?.message).toMatch(
      /has 2 segments, at least 3 expected/,
    );
  });

  test('rejects a minSegments that is not a positive integer', () => {
    expect(() => validateKey('a:b', { minSegments: 0 })).toThrow(
      expect.objectContaining({ argument: 'options.minSegments' }),
    );
  });
});

describe('assertValidKey', () => {
  test('passes a good key', () => {
    expect(() => assertValidKey('user:123:profile')).not.toThrow();
  });

  test('throws the error validateKey returns', () => {
    expect(() => assertValidKey('user_data')).toThrow(validateKey('user_data')!.message);
  });
});
