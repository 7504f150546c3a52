import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Runs `invalidate` once the handler has answered and before the response completes, so that the
 * client's next request already sees the change: `res.end` waits for it. `invalidate` gets the
 * status and the response's headers, those given to `res.writeHead` included. A failed
 * invalidation is reported by the cache's `error` event; the response goes out anyway.
 */
export function afterWrite(
  res: ServerResponse,
  invalidate: (status: number, headers: OutgoingHttpHeaders) => Promise<void> | undefined,
): void {
  const { writeHead, end } = res;
  let given: OutgoingHttpHeaders = {};
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead;
    const fields = typeof args[1] === 'object' ? args[1] : args[2];
    if (fields !== null && typeof fields === 'object' && !Array.isArray(fields)) {
      given = Object.fromEntries(
        Object.entries(fields).map(([name, value]) => [name.toLowerCase(), value]),
      );
    }
    return writeHead.apply(res, args as never);
  } as ServerResponse['writeHead'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    res.end = end;
    const finish = () => end.apply(res, args as never);
    const pending = invalidate(res.statusCode, { ...given, ...res.getHeaders() });
    if (pending === undefined) return finish();
    pending.then(finish, finish);
    return res;
  } as ServerResponse['end'];
}
