import { createHash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

/**
 * Encodes a value as a canonical string: equal values (objects with keys in any order, equal
 * Maps and Sets) give equal strings, and values of different types never collide (`1`, `'1'`
 * and `1n` differ; `['a:b']` differs from `['a', 'b']`). Throws {@link InvalidArgumentError}
 * naming `argument` for functions, symbols, class instances and circular references.
 */
export function stableEncode(value: unknown, argument = 'value'): string {
  return encode(value, argument, new Set());
}

/** A short, stable hash of text: 22 base64url characters of its SHA-256 (132 bits). */
export function hashKey(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

function encode(value: unknown, argument: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'object':
      return value === null ? 'null' : encodeObject(value, argument, seen);
    default:
      throw new InvalidArgumentError(argument, `cannot encode a ${typeof value} into a cache key`);
  }
}

function encodeObject(value: object, argument: string, seen: Set<object>): string {
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (value instanceof Uint8Array) return `Bytes(${Buffer.from(value).toString('base64')})`;
  if (seen.has(value)) {
    throw new InvalidArgumentError(argument, 'cannot encode a circular structure into a cache key');
  }
  seen.add(value);
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((item) => encode(item, argument, seen)).join(',')}]`;
  } else if (value instanceof Map) {
    const pairs = [...value].map(
      ([k, v]) => `${encode(k, argument, seen)}=>${encode(v, argument, seen)}`,
    );
    text = `Map{${pairs.sort().join(',')}}`;
  } else if (value instanceof Set) {
    text = `Set{${[...value]
      .map((item) => encode(item, argument, seen))
      .sort()
      .join(',')}}`;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidArgumentError(
        argument,
        `cannot encode an instance of ${value.constructor?.name ?? 'an unknown class'} into a cache key`,
      );
    }
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${encode(record[k], argument, seen)}`);
    text = `{${fields.join(',')}}`;
  }
  seen.delete(value);
  return text;
}
