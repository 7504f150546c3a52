import type { IncomingHttpHeaders } from 'node:http';

/**
 * The lower-case, sorted, de-duplicated header names of a `Vary` header; `['*']` for a wildcard,
 * which means no request can be matched and the response must not be stored.
 */
export function parseVary(header: string | string[] | number | undefined): string[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : String(header);
  const names = new Set<string>();
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return ['*'];
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

/** The values of the `vary` headers in a request, in order; `null` for a missing header. */
export function varyValues(
  vary: readonly string[],
  headers: IncomingHttpHeaders,
): (string | null)[] {
  return vary.map((name) => {
    const value = headers[name];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value.trim();
  });
}

/** Whether a request carries the same `vary` header values as the one a response was stored for. */
export function matchesVary(
  vary: readonly string[],
  values: readonly (string | null)[],
  headers: IncomingHttpHeaders,
): boolean {
  if (vary.length === 0) return true;
  const actual = varyValues(vary, headers);
  return actual.every((value, i) => value === values[i]);
}

/** The key suffix of one variant: unambiguous whatever the header values contain. */
export function variantSuffix(values: readonly (string | null)[]): string {
  return values.length === 0 ? '' : `\n${JSON.stringify(values)}`;
}
