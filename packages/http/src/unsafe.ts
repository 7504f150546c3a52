import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Runs `invalidate` once the handler has answered and before the response completes, so that the
 * client's next request already sees the change: `res.end` waits for it. A failed invalidation is
 * reported by the cache's `error` event; the response goes out anyway.
 */
export function afterWrite(
  res: ServerResponse,
  invalidate: (status: number, headers: OutgoingHttpHeaders) => Promise<void> | undefined,
): void {
  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    res.end = end;
    const finish = () => end.apply(res, args as never);
    const pending = invalidate(res.statusCode, res.getHeaders());
    if (pending === undefined) return finish();
    pending.then(finish, finish);
    return res;
  } as ServerResponse['end'];
}
