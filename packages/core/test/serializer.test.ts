import { describe, expect, test } from 'vitest';
import { defaultSerializer, jsonSerializer, SerializationError } from '../src/index.js';

describe('defaultSerializer', () => {
  test('round-trips Date, Map, Set, BigInt, Uint8Array, Buffer and undefined inside objects', () => {
    const value = {
      at: new Date('2026-01-02T03:04:05.678Z'),
      map: new Map<string, unknown>([['a', { nested: undefined }]]),
      set: new Set([1n, 2n]),
      bytes: new Uint8Array([0, 255, 7]),
      buffer: Buffer.from('héllo'),
      missing: undefined,
      nothing: null,
      nan: Number.NaN,
    };
    const back = defaultSerializer.deserialize(defaultSerializer.serialize(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.at).toBeInstanceOf(Date);
    expect(back.map.get('a')).toHaveProperty('nested', undefined);
    expect(back.set.has(2n)).toBe(true);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(back.buffer)).toBe(true);
    expect(back.buffer.toString()).toBe('héllo');
    expect('missing' in back).toBe(true);
  });

  test('rejects a function with a SerializationError', () => {
    expect(() => defaultSerializer.serialize({ f() {} })).toThrow(SerializationError);
  });

  test('rejects text it did not produce with a SerializationError', () => {
    expect(() => defaultSerializer.deserialize('{not devalue')).toThrow(SerializationError);
  });
});

describe('jsonSerializer', () => {
  test('rejects a BigInt and a bare function', () => {
    expect(() => jsonSerializer.serialize(1n)).toThrow(SerializationError);
    expect(() => jsonSerializer.serialize(() => 1)).toThrow(SerializationError);
  });
});
