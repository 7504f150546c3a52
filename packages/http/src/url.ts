/**
 * Returns `url` (a path with an optional query, as in a request line) with its query parameters
 * sorted by name and the ignored ones removed, so that `/a?b=2&a=1&utm_source=x` and `/a?a=1&b=2`
 * name the same resource. Repeated parameters keep their order. The path is left as it came.
 *
 * @param ignore parameter names to drop; a name ending in `*` drops every name starting with the rest.
 */
export function normalizeUrl(url: string, ignore: readonly string[] = []): string {
  const question = url.indexOf('?');
  if (question === -1) return url;
  const path = url.slice(0, question);
  const params = new URLSearchParams(url.slice(question + 1));
  const kept: [string, string][] = [];
  for (const [name, value] of params) {
    if (!ignored(name, ignore)) kept.push([name, value]);
  }
  if (kept.length === 0) return path;
  // Array#sort is stable, so repeated names keep their relative order.
  kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${path}?${new URLSearchParams(kept).toString()}`;
}

function ignored(name: string, ignore: readonly string[]): boolean {
  for (const pattern of ignore) {
    if (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern) {
      return true;
    }
  }
  return false;
}

/**
 * Returns `url` without the `ignore`d query parameters, the others left in their order; `url`
 * itself when it has none of them.
 */
export function stripParams(url: string, ignore: readonly string[]): string {
  const question = url.indexOf('?');
  if (question === -1 || ignore.length === 0) return url;
  const params = new URLSearchParams(url.slice(question + 1));
  let removed = false;
  for (const name of new Set(params.keys())) {
    if (ignored(name, ignore)) {
      params.delete(name);
      removed = true;
    }
  }
  if (!removed) return url;
  const query = params.toString();
  return query === '' ? url.slice(0, question) : `${url.slice(0, question)}?${query}`;
}
