import { InvalidArgumentError } from '@cache/core';

/** The separators a key may use: punctuation that never occurs in a hash or an escape sequence. */
export const SEPARATORS = ':/|.,;!@$&+=~';

/** A hashed segment: `#` then the 22 base64url characters of `hashKey`. */
const HASHED = /^#[\w-]{22}$/;
// Half of a surrogate pair with no other half has no UTF-8 form, so two such strings would
// reach a store as the same bytes.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MALFORMED_ESCAPE = /%(?![0-9A-F]{2})/;

/** Checks a separator option and returns it. */
export function checkSeparator(separator: unknown, argument: string): string {
  if (typeof separator !== 'string' || separator.length !== 1 || !SEPARATORS.includes(separator)) {
    throw new InvalidArgumentError(
      argument,
      `expected one character of "${SEPARATORS}", got ${describe(separator)}`,
    );
  }
  return separator;
}

/**
 * Escapes and unescapes single segments for one separator. `%`, `#`, the separator, whitespace
 * and control characters are written as `%XX`, the upper-case hex of each UTF-8 byte.
 */
export class SegmentCodec {
  readonly #special: RegExp;

  constructor(separator: string) {
    // No separator in SEPARATORS needs a backslash inside a character class.
    this.#special = new RegExp(`[%#${separator}\\s\\p{Cc}]`, 'gu');
  }

  escape(text: string, argument: string): string {
    if (LONE_SURROGATE.test(text)) {
      throw new InvalidArgumentError(
        argument,
        'contains a lone surrogate, which has no UTF-8 form',
      );
    }
    return text.replace(this.#special, percentEncode);
  }

  /** The text `escape` turned into `raw`; a hashed segment comes back as it is. */
  unescape(raw: string, index: number): string {
    if (HASHED.test(raw)) return raw;
    if (raw === '') throw new InvalidArgumentError('key', `segment ${index} is empty`);
    let text: string;
    try {
      if (MALFORMED_ESCAPE.test(raw)) throw new URIError();
      text = decodeURIComponent(raw);
    } catch {
      throw new InvalidArgumentError(
        'key',
        `segment ${index} ("${raw}") has a malformed %XX escape`,
      );
    }
    const canonical = this.escape(text, 'key');
    if (canonical !== raw) {
      throw new InvalidArgumentError(
        'key',
        `segment ${index} ("${raw}") is not escaped the way key() writes it ("${canonical}")`,
      );
    }
    return text;
  }
}

function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) {
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'function' ? 'a function' : String(value);
}
