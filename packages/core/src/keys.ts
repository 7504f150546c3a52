import { InvalidArgumentError } from './errors.js';
import { RESERVED_PREFIX } from './tags.js';

/**
 * The store key of `key` under `prefix`. Throws {@link InvalidArgumentError} (argument `'key'`)
 * for a key that is not a non-empty string, holds a lone UTF-16 surrogate (stores that encode
 * keys as UTF-8, such as Redis, would turn `'\uD800'`, `'\uDC00'` and `'\uFFFD'` into one key),
 * or falls under the cache's reserved prefix `__cache:`.
 */
export function storeKey(prefix: string, key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw invalidKey(key);
  if (!wellFormed(key)) {
    throw new InvalidArgumentError(
      'key',
      `${JSON.stringify(key)} holds a lone surrogate, which stores encoding keys as UTF-8 cannot tell apart`,
    );
  }
  const full = prefix + key;
  if (full.startsWith(RESERVED_PREFIX)) {
    throw new InvalidArgumentError('key', `keys starting with "${RESERVED_PREFIX}" are reserved`);
  }
  return full;
}

/** The error for a key that is not a non-empty string. */
export function invalidKey(key: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'key',
    typeof key === 'string'
      ? 'expected a non-empty string'
      : `expected a string, got ${typeof key}`,
  );
}

/**
 * The key prefix of namespace `name` under `parent` (`'users:'`). Throws
 * {@link InvalidArgumentError} for an empty name, one with a lone surrogate, or one that would put
 * keys under the reserved prefix `__cache:`.
 */
export function namespacePrefix(parent: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('namespace', 'expected a non-empty string');
  }
  const prefix = `${parent}${name}:`;
  if (!wellFormed(name) || prefix.startsWith(RESERVED_PREFIX)) {
    throw new InvalidArgumentError(
      'namespace',
      `${JSON.stringify(name)} is reserved or holds a lone surrogate`,
    );
  }
  return prefix;
}

// String.prototype.isWellFormed (Node 20+; not in the TypeScript lib this package targets).
function wellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
