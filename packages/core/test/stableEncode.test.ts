import { describe, expect, test } from 'vitest';
import { hashKey, InvalidArgumentError, stableEncode } from '../src/index.js';

describe('stableEncode', () => {
  test('gives equal strings for objects whose keys come in a different order', () => {
    expect(stableEncode({ a: 1, b: { c: 2, d: 3 } })).toBe(
      stableEncode({ b: { d: 3, c: 2 }, a: 1 }),
    );
  });

  test('keeps values of different types apart', () => {
    const encodings = [1, '1', 1n, true, 'true', null, 'null', undefined, [1], ['1'], { 0: 1 }].map(
      (v) => stableEncode(v),
    );
    expect(new Set(encodings).size).toBe(encodings.length);
  });

  test('does not let a separator inside a string merge two arguments', () => {
    expect(stableEncode(['a:b'])).not.toBe(stableEncode(['a', 'b']));
    expect(stableEncode(['a,b'])).not.toBe(stableEncode(['a', 'b']));
    expect(stableEncode(['a",  "b'])).not.toBe(stableEncode(['a', 'b']));
  });

  test('encodes Maps and Sets independently of insertion order', () => {
    expect(stableEncode(new Set([1, 2]))).toBe(stableEncode(new Set([2, 1])));
    expect(
      stableEncode(
        new Map([
          ['x', 1],
          ['y', 2],
        ]),
      ),
    ).toBe(
      stableEncode(
        new Map([
          ['y', 2],
          ['x', 1],
        ]),
      ),
    );
    expect(stableEncode(new Set([1]))).not.toBe(stableEncode([1]));
  });

  test('encodes dates by instant and bytes by content', () => {
    expect(stableEncode(new Date(5))).toBe(stableEncode(new Date(5)));
    expect(stableEncode(new Date(5))).not.toBe(stableEncode(5));
    expect(stableEncode(Buffer.from('ab'))).toBe(stableEncode(new Uint8Array([97, 98])));
  });

  test('rejects functions, class instances and circular structures naming the argument', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    class Point {}
    for (const bad of [() => 1, Symbol('s'), new Point(), circular]) {
      expect(() => stableEncode(bad, 'args')).toThrow(InvalidArgumentError);
      try {
        stableEncode(bad, 'args');
      } catch (error) {
        expect((error as InvalidArgumentError).argument).toBe('args');
      }
    }
  });

  test('allows the same object twice when it is not circular', () => {
    const shared = { x: 1 };
    expect(stableEncode([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });
});

describe('hashKey', () => {
  test('is stable, short and distinguishes inputs', () => {
    expect(hashKey('abc')).toBe(hashKey('abc'));
    expect(hashKey('abc')).toHaveLength(22);
    expect(hashKey('abc')).not.toBe(hashKey('abd'));
  });
});
