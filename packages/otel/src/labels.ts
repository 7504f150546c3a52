import { createHash } from 'node:crypto';

/** How keys appear on spans: hashed (the default), left out, or as they are. */
export type KeyMode = 'hash' | 'omit' | 'raw';

/**
 * The `cache.namespace` label of a key, guarded against cardinality: the first `max` distinct
 * values are kept, any later one is reported as `_other`. Keys are never labels.
 */
export class NamespaceLabels {
  readonly #seen = new Set<string>();
  readonly #max: number;
  readonly #of: (key: string) => string;

  constructor(max: number, of: (key: string) => string) {
    this.#max = max;
    this.#of = of;
  }

  /** The label of `key`'s namespace. */
  of(key: string): string {
    const namespace = this.#of(key);
    if (this.#seen.has(namespace)) return namespace;
    if (this.#seen.size >= this.#max) return '_other';
    this.#seen.add(namespace);
    return namespace;
  }
}

/** The default namespace of a key: what comes before its first `:`, or `''`. */
export function firstSegment(key: string): string {
  const end = key.indexOf(':');
  return end === -1 ? '' : key.slice(0, end);
}

/** The span attributes that name `key` under `mode`. */
export function keyAttributes(key: string, mode: KeyMode): Record<string, string> {
  if (mode === 'omit') return {};
  if (mode === 'raw') return { 'cache.key': key };
  return { 'cache.key.hash': createHash('sha256').update(key).digest('hex').slice(0, 16) };
}
