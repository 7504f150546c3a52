import { InvalidArgumentError } from '@cache/core';
import { checkSeparator, describe } from './segmentCodec.js';

/**
 * Options of {@link validateKey} and {@link assertValidKey}.
 *
 * @example
 * validateKey('health', { minSegments: 1 }); // undefined
 */
export interface ValidateKeyOptions {
  /**
   * The character expected between segments.
   * @default ':'
   */
  separator?: string;
  /**
   * The fewest segments a key may have; 2 asks for at least `type:id`, 1 allows single words.
   * @default 2
   */
  minSegments?: number;
}

const UNPRINTABLE = /[\s\p{Cc}]/u;
// Characters people use instead of a real separator, as in 'user_123_profile'.
const STAND_IN_SEPARATORS = ['_', '-', '.', '/', '|'];
// A short type glued to an id, as in 'u123'.
const RUN_TOGETHER = /^[A-Za-z]+\d+$/;

/**
 * Checks that a key follows the `type:id[:more]` convention and returns an
 * {@link InvalidArgumentError} saying why it does not, or `undefined` for a good key. Rejects
 * non-strings, the empty string, whitespace and control characters, a leading or trailing
 * separator, empty segments (`'user::1'`), fewer than `minSegments` segments (`'u123'`,
 * `'user_data'`) and another character standing in for the separator
 * (`'user_123_profile_data_v2'`).
 *
 * @example
 * validateKey('user:123:profile'); // undefined
 * validateKey('user_data')?.message;
 * // '[cache] invalid key: "user_data" has no structure: …'
 */
export function validateKey(
  key: unknown,
  options: ValidateKeyOptions = {},
): InvalidArgumentError | undefined {
  const separator = checkSeparator(options.separator ?? ':', 'options.separator');
  const minSegments = options.minSegments ?? 2;
  if (!Number.isInteger(minSegments) || minSegments < 1) {
    throw new InvalidArgumentError(
      'options.minSegments',
      `expected a positive integer, got ${describe(minSegments)}`,
    );
  }
  const problem = findProblem(key, separator, minSegments);
  return problem === undefined ? undefined : new InvalidArgumentError('key', problem);
}

/**
 * Throws the {@link InvalidArgumentError} {@link validateKey} returns for a bad key; narrows
 * `key` to `string` otherwise.
 *
 * @example
 * assertValidKey('api:v2:users:list:page:1'); // passes
 * assertValidKey('u123'); // throws: '"u123" is unclear: …'
 */
export function assertValidKey(key: unknown, options?: ValidateKeyOptions): asserts key is string {
  const error = validateKey(key, options);
  if (error !== undefined) throw error;
}

function findProblem(key: unknown, separator: string, minSegments: number): string | undefined {
  if (typeof key !== 'string') return `expected a string, got ${describe(key)}`;
  if (key === '') return 'a key cannot be empty';
  const quoted = JSON.stringify(key);
  const unprintable = UNPRINTABLE.exec(key);
  if (unprintable) {
    const code = unprintable[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `${quoted} contains whitespace or a control character (U+${code}) at index ${unprintable.index}; key() escapes these`;
  }
  if (key.startsWith(separator)) return `${quoted} starts with the separator "${separator}"`;
  if (key.endsWith(separator)) return `${quoted} ends with the separator "${separator}"`;
  const segments = key.split(separator);
  const empty = segments.indexOf('');
  if (empty !== -1) {
    return `${quoted} has an empty segment at position ${empty} (two separators in a row)`;
  }
  if (segments.length >= minSegments) return undefined;
  if (segments.length > 1) {
    return `${quoted} has ${segments.length} segments, at least ${minSegments} expected`;
  }
  const standIn = STAND_IN_SEPARATORS.find((char) => key.split(char).length > 2);
  if (standIn !== undefined) {
    return `${quoted} has an inconsistent format: "${standIn}" is used as a separator; join segments with "${separator}", as in "${key.replaceAll(standIn, separator)}"`;
  }
  if (RUN_TOGETHER.test(key)) {
    return `${quoted} is unclear: the type and the id run together; write them as separate segments, as in "user${separator}123"`;
  }
  return `${quoted} has no structure: a key needs at least ${minSegments} segments joined by "${separator}", as in "user${separator}123"`;
}
