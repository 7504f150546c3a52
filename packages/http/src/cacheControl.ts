/** The directives of a `Cache-Control` header: lower-case names, `true` for those without a value. */
export type CacheControl = Map<string, string | true>;

/**
 * Parses a `Cache-Control` header (`'public, max-age=60, s-maxage="120"'`). Several header lines
 * are read as one list; when a directive repeats, the first one counts.
 */
export function parseCacheControl(header: string | string[] | number | undefined): CacheControl {
  const directives: CacheControl = new Map();
  if (header === undefined) return directives;
  const text = Array.isArray(header) ? header.join(',') : String(header);
  for (const part of text.split(',')) {
    const equals = part.indexOf('=');
    const name = (equals === -1 ? part : part.slice(0, equals)).trim().toLowerCase();
    if (name === '' || directives.has(name)) continue;
    const value =
      equals === -1
        ? true
        : part
            .slice(equals + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    directives.set(name, value);
  }
  return directives;
}
