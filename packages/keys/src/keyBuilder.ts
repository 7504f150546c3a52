import { hashKey, InvalidArgumentError, stableEncode } from '@cache/core';
import { checkSeparator, describe, SegmentCodec } from './segmentCodec.js';
import type { KeyTemplate } from './template.js';

/**
 * One part of a key. Strings, numbers, bigints and booleans are written as text (escaped);
 * objects, arrays, Maps, Sets, Dates and byte arrays are hashed.
 *
 * @example
 * const segments: KeySegment[] = ['user', 123, { sort: 'name' }];
 */
export type KeySegment = string | number | bigint | boolean | object;

/**
 * Options of {@link createKeyBuilder}.
 *
 * @example
 * const options: KeyBuilderOptions = { separator: '/', maxSegmentLength: 100 };
 */
export interface KeyBuilderOptions {
  /**
   * The character between segments: one of `: / | . , ; ! @ $ & + = ~`.
   * @default ':'
   */
  separator?: string;
  /**
   * A segment longer than this once escaped is replaced by `#` and its 22-character hash, so
   * keys stay bounded. At least 23 (a hashed segment's length); `Infinity` never hashes text.
   * @default 64
   */
  maxSegmentLength?: number;
}

/**
 * Options of {@link KeyBuilder.keyspace}.
 *
 * @example
 * const options: KeyspaceOptions = { version: 2 }; // keys start with '<name>:v2'
 */
export interface KeyspaceOptions {
  /**
   * A version written after the name as `v<version>`: bump it to move every key of the
   * keyspace at once. A non-negative integer or a non-empty string.
   * @default undefined (no version segment)
   */
  version?: number | string;
}

type TemplatePart = { literal: string } | { name: string };

const PLACEHOLDER = /^\{([A-Za-z_$][\w$]*)\}$/;

/**
 * Builds, parses and templates keys with one separator, optionally under a prefix (a
 * keyspace). Create one with {@link createKeyBuilder}, or a prefixed one with
 * {@link KeyBuilder.keyspace}.
 *
 * Escaping: inside a segment, `%`, `#`, the separator, whitespace and control characters are
 * written as `%XX`, the upper-case hex of each of their UTF-8 bytes (`:` → `%3A`, `%` → `%25`,
 * `' '` → `%20`). The separator therefore only ever stands between segments, and `#` only
 * starts a hashed segment (`#` and 22 base64url characters).
 *
 * @example
 * const keys = createKeyBuilder({ separator: '/' });
 * keys.key('user', 123); // 'user/123'
 */
export class KeyBuilder {
  /** The character between segments. */
  readonly separator: string;
  /** The escaped length past which a text segment is hashed. */
  readonly maxSegmentLength: number;
  #prefix = '';
  readonly #codec: SegmentCodec;

  /** Checks the options; throws {@link InvalidArgumentError} naming a bad one. */
  constructor(options: KeyBuilderOptions = {}) {
    this.separator = checkSeparator(options.separator ?? ':', 'options.separator');
    const max = options.maxSegmentLength ?? 64;
    if (!(max === Number.POSITIVE_INFINITY || (Number.isInteger(max) && max >= 23))) {
      throw new InvalidArgumentError(
        'options.maxSegmentLength',
        `expected an integer of at least 23 or Infinity, got ${describe(max)}`,
      );
    }
    this.maxSegmentLength = max;
    this.#codec = new SegmentCodec(this.separator);
  }

  /**
   * The escaped segments every key of this builder starts with, such as `'api:v2'`; empty
   * for a builder made by {@link createKeyBuilder}. Clear a keyspace with
   * `store.clear(space.prefix + space.separator)`.
   */
  get prefix(): string {
    return this.#prefix;
  }

  /**
   * Joins segments into a key, escaping each one (see {@link KeyBuilder}); objects and text
   * longer than {@link KeyBuilder.maxSegmentLength} once escaped are hashed. Throws {@link InvalidArgumentError} for no segments, an empty string,
   * `null`, `undefined`, `NaN` or an infinite number.
   *
   * @example
   * keys.key('user', 123, 'profile'); // 'user:123:profile'
   * keys.key('a:b'); // 'a%3Ab'
   */
  key(...segments: [KeySegment, ...KeySegment[]]): string {
    if (segments.length === 0) {
      throw new InvalidArgumentError('segments', 'a key needs at least one segment');
    }
    return this.#join(segments.map((segment, i) => this.#segment(segment, `segments[${i}]`)));
  }

  /**
   * Splits a key made by {@link KeyBuilder.key} back into its segments, undoing the escaping;
   * numbers come back as text and hashed segments as their `#…` hash. On a keyspace the
   * prefix is checked and left out. Throws {@link InvalidArgumentError} for a key that
   * `key()` could not have written.
   *
   * @example
   * keys.parseKey('user:123:a%3Ab'); // ['user', '123', 'a:b']
   */
  parseKey(key: string): string[] {
    if (typeof key !== 'string' || key === '') {
      throw new InvalidArgumentError('key', `expected a non-empty string, got ${describe(key)}`);
    }
    let rest = key;
    if (this.#prefix !== '') {
      const start = this.#prefix + this.separator;
      if (!key.startsWith(start)) {
        throw new InvalidArgumentError('key', `"${key}" is not in keyspace "${this.#prefix}"`);
      }
      rest = key.slice(start.length);
    }
    return rest.split(this.separator).map((raw, i) => this.#codec.unescape(raw, i));
  }

  /**
   * Compiles a template such as `'user:{id}:profile'` into a function of its parameters. Each
   * `{name}` fills a whole segment and gets the same escaping and hashing as in
   * {@link KeyBuilder.key}; TypeScript infers the parameter object from the template. Missing
   * or unexpected parameters throw {@link InvalidArgumentError}.
   *
   * @example
   * const profileKey = keys.defineKey('user:{id}:profile');
   * profileKey({ id: 123 }); // 'user:123:profile'
   */
  defineKey<T extends string>(template: T): KeyTemplate<T> {
    if (typeof template !== 'string' || template === '') {
      throw new InvalidArgumentError(
        'template',
        `expected a non-empty string, got ${describe(template)}`,
      );
    }
    const parts = template.split(this.separator).map((part, i): TemplatePart => {
      const name = PLACEHOLDER.exec(part)?.[1];
      if (name !== undefined) return { name };
      if (part.includes('{') || part.includes('}')) {
        throw new InvalidArgumentError(
          'template',
          `segment ${i} ("${part}") must be plain text or one whole {name} placeholder`,
        );
      }
      return { literal: this.#segment(part, 'template') };
    });
    const names = new Set(parts.flatMap((part) => ('name' in part ? [part.name] : [])));
    const build = (params: Record<string, unknown> = {}): string => {
      if (typeof params !== 'object' || params === null) {
        throw new InvalidArgumentError('params', `expected an object, got ${describe(params)}`);
      }
      for (const name of Object.keys(params)) {
        if (!names.has(name)) {
          throw new InvalidArgumentError('params', `"${template}" has no parameter "${name}"`);
        }
      }
      return this.#join(
        parts.map((part) => ('literal' in part ? part.literal : this.#param(params, part.name))),
      );
    };
    return Object.assign(build, { template }) as KeyTemplate<T>;
  }

  /**
   * A builder whose keys all start with `name` and, when given, `v<version>`. Keyspaces nest:
   * a keyspace of a keyspace adds to its prefix.
   *
   * @example
   * const api = keys.keyspace('api', { version: 2 });
   * api.key('users', 'list', 'page', 1); // 'api:v2:users:list:page:1'
   */
  keyspace(name: string, options: KeyspaceOptions = {}): KeyBuilder {
    if (typeof name !== 'string') {
      throw new InvalidArgumentError('name', `expected a string, got ${describe(name)}`);
    }
    const segments = [this.#segment(name, 'name')];
    const { version } = options;
    if (version !== undefined) {
      const valid =
        typeof version === 'number'
          ? Number.isSafeInteger(version) && version >= 0
          : typeof version === 'string' && version !== '';
      if (!valid) {
        throw new InvalidArgumentError(
          'options.version',
          `expected a non-negative integer or a non-empty string, got ${describe(version)}`,
        );
      }
      segments.push(this.#segment(`v${version}`, 'options.version'));
    }
    const child = new KeyBuilder({
      separator: this.separator,
      maxSegmentLength: this.maxSegmentLength,
    });
    child.#prefix = this.#join(segments);
    return child;
  }

  #join(segments: string[]): string {
    const body = segments.join(this.separator);
    return this.#prefix === '' ? body : this.#prefix + this.separator + body;
  }

  #param(params: Record<string, unknown>, name: string): string {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value === undefined) {
      throw new InvalidArgumentError('params', `missing parameter "${name}"`);
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new InvalidArgumentError(
        `params.${name}`,
        `expected a string or a number, got ${describe(value)}`,
      );
    }
    return this.#segment(value, `params.${name}`);
  }

  #segment(value: unknown, argument: string): string {
    let text: string;
    switch (typeof value) {
      case 'string':
        if (value === '') throw new InvalidArgumentError(argument, 'a segment cannot be empty');
        text = value;
        break;
      case 'number':
        if (!Number.isFinite(value)) {
          throw new InvalidArgumentError(argument, `expected a finite number, got ${value}`);
        }
        text = String(value);
        break;
      case 'bigint':
      case 'boolean':
        text = String(value);
        break;
      case 'object':
        if (value !== null) return `#${hashKey(stableEncode(value, argument))}`;
        throw new InvalidArgumentError(argument, 'expected a segment, got null');
      default:
        throw new InvalidArgumentError(
          argument,
          `expected a string, number, bigint, boolean or object, got ${describe(value)}`,
        );
    }
    const escaped = this.#codec.escape(text, argument);
    // stableEncode quotes text, so hashed text never meets a hashed object's encoding.
    return escaped.length > this.maxSegmentLength ? `#${hashKey(stableEncode(text))}` : escaped;
  }
}

/**
 * Creates a {@link KeyBuilder} with its own separator or hashing threshold. The functions
 * exported at the top level ({@link key}, {@link parseKey}, …) use one with the defaults.
 *
 * @example
 * const keys = createKeyBuilder({ separator: '/', maxSegmentLength: 100 });
 * keys.key('user', 123, 'profile'); // 'user/123/profile'
 */
export function createKeyBuilder(options?: KeyBuilderOptions): KeyBuilder {
  return new KeyBuilder(options);
}

const defaultBuilder = new KeyBuilder();

/**
 * Joins segments into a key with `:`, escaping `%`, `#`, `:`, whitespace and control
 * characters as `%XX`, so `key('a:b')` and `key('a', 'b')` never meet. Objects and text
 * longer than 64 characters are hashed. See {@link KeyBuilder.key}.
 *
 * @example
 * key('user', 123); // 'user:123'
 * key('api', 'v2', 'users', 'list', 'page', 1); // 'api:v2:users:list:page:1'
 * key('search', { q: 'shoes', page: 2 }); // 'search:#' + 22 hash characters
 */
export function key(...segments: [KeySegment, ...KeySegment[]]): string {
  return defaultBuilder.key(...segments);
}

/**
 * Splits a key written by {@link key} back into its segments. See {@link KeyBuilder.parseKey}.
 *
 * @example
 * parseKey('user:123:profile'); // ['user', '123', 'profile']
 * parseKey(key('a:b', 'c')); // ['a:b', 'c']
 */
export function parseKey(key: string): string[] {
  return defaultBuilder.parseKey(key);
}

/**
 * Compiles a template into a typed key function. See {@link KeyBuilder.defineKey}.
 *
 * @example
 * const profileKey = defineKey('user:{id}:profile');
 * profileKey({ id: 123 }); // 'user:123:profile'
 */
export function defineKey<T extends string>(template: T): KeyTemplate<T> {
  return defaultBuilder.defineKey(template);
}

/**
 * A key builder whose keys start with `name` and an optional version. See
 * {@link KeyBuilder.keyspace}.
 *
 * @example
 * const api = keyspace('api', { version: 2 });
 * api.key('users', 'list', 'page', 1); // 'api:v2:users:list:page:1'
 * api.keyspace('admin').key('stats'); // 'api:v2:admin:stats'
 */
export function keyspace(name: string, options?: KeyspaceOptions): KeyBuilder {
  return defaultBuilder.keyspace(name, options);
}
