import { parse, stringify } from 'devalue';
import { SerializationError } from './errors.js';
import type { Serializer } from './types.js';

// Buffers would come back as plain Uint8Arrays; tag them so they round-trip as Buffers.
const reducers = {
  Buffer: (value: unknown) => Buffer.isBuffer(value) && value.toString('base64'),
};
const revivers = {
  Buffer: (text: string) => Buffer.from(text, 'base64'),
};

/**
 * The default serializer, built on `devalue`: Date, Map, Set, BigInt, RegExp, URL, typed arrays,
 * Buffer, `undefined` inside objects, NaN/Infinity and repeated or circular references all
 * round-trip. Functions, symbols and class instances other than those are rejected with a
 * {@link SerializationError}.
 */
export const defaultSerializer: Serializer = {
  name: 'devalue',
  serialize(value) {
    try {
      return stringify(value, reducers);
    } catch (error) {
      throw new SerializationError('serialize', messageOf(error), error);
    }
  },
  deserialize(text) {
    try {
      return parse(text, revivers);
    } catch (error) {
      throw new SerializationError('deserialize', messageOf(error), error);
    }
  },
};

/**
 * Plain `JSON` as a serializer, for interop with other readers of the same keys. Dates come back
 * as strings; Map, Set and BigInt are not supported.
 */
export const jsonSerializer: Serializer = {
  name: 'json',
  serialize(value) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new SerializationError('serialize', messageOf(error), error);
    }
    if (text === undefined) {
      throw new SerializationError('serialize', `JSON cannot encode a ${typeof value}`);
    }
    return text;
  },
  deserialize(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new SerializationError('deserialize', messageOf(error), error);
    }
  },
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
