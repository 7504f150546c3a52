/**
 * The byte range a `Range` header asks of a body of `length` bytes (RFC 9110 section 14): one
 * `[first, last]` pair, `'unsatisfiable'`, or `undefined` when the header is not a single byte
 * range, which a cache may ignore by sending the whole response.
 */
export function satisfiable(
  header: string,
  length: number,
): [first: number, last: number] | 'unsatisfiable' | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return undefined;
  const [, from, to] = match as unknown as [string, string, string];
  if (from === '' && to === '') return undefined;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0 || length === 0) return 'unsatisfiable';
    return [Math.max(0, length - suffix), length - 1];
  }
  const first = Number(from);
  if (first >= length) return 'unsatisfiable';
  const last = to === '' ? length - 1 : Math.min(Number(to), length - 1);
  return last < first ? undefined : [first, last];
}
