import {
  type IncomingHttpHeaders,
  IncomingMessage,
  type RequestListener,
  ServerResponse,
} from 'node:http';
import { Socket } from 'node:net';
import type { StoredResponse } from './types.js';

/**
 * A request the cache sends through the app by itself: method, URL (path and query) and headers.
 * The headers carry the {@link Revalidation} it is for, under a symbol no client can send.
 */
export interface BackgroundRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/**
 * Sends a {@link BackgroundRequest} through the app `native` (the framework's request) belongs to,
 * as a request of its own whose answer goes nowhere: how an adapter lets the cache refresh a
 * response in the background (`stale-while-revalidate`). Must not throw.
 */
export type Dispatch<Req> = (native: Req, request: BackgroundRequest) => void;

/** One background refresh of a stale stored response, carried by the request that runs it. */
export interface Revalidation {
  /** The key the stale response is stored under; the request refreshes it only if it keys there. */
  readonly key: string;
  /** The stale response: its validators go to the handler, and a `304` refreshes it. */
  readonly stale: StoredResponse;
  /** Called once the refresh is over, stored or not. */
  done(): void;
}

const REVALIDATION = Symbol('@cache/http revalidation');

// Request fields that belong to the client's own request, not to a refresh of the stored response.
const DROPPED = new Set([
  'cache-control',
  'content-length',
  'expect',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'pragma',
  'range',
  'transfer-encoding',
]);

/**
 * The headers of the request that refreshes a stale response: those of the client's request that
 * found it (the same host, credentials and `Vary` values, so the app answers the same resource),
 * without its conditions, range and directives, carrying `revalidation`.
 */
export function revalidationHeaders(
  headers: IncomingHttpHeaders,
  revalidation: Revalidation,
): IncomingHttpHeaders {
  const copy: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (!DROPPED.has(name)) copy[name] = headers[name];
  }
  (copy as Record<symbol, Revalidation>)[REVALIDATION] = revalidation;
  return copy;
}

/** The background refresh a request was sent for, or `undefined` for a client's request. */
export function revalidationOf(headers: IncomingHttpHeaders): Revalidation | undefined {
  return (headers as Record<symbol, Revalidation | undefined>)[REVALIDATION];
}

/**
 * Sends `request` through a Node request listener (an Express app, Koa's `app.callback()`,
 * Fastify's `routing`) on a request and a response of its own, with no connection: what the app
 * writes is dropped. The socket tells the app what the client's did (`encrypted`, addresses), so
 * that it sees the same scheme and client as for `original`.
 */
export function dispatchNode(
  listener: RequestListener,
  original: IncomingMessage,
  request: BackgroundRequest,
): void {
  const from = original.socket as Socket & { encrypted?: boolean };
  const socket = new Socket();
  Object.defineProperties(socket, {
    encrypted: { value: from?.encrypted },
    remoteAddress: { value: from?.remoteAddress },
    remotePort: { value: from?.remotePort },
    remoteFamily: { value: from?.remoteFamily },
  });
  const req = new IncomingMessage(socket);
  req.method = request.method;
  req.url = request.url;
  req.headers = request.headers;
  req.httpVersionMajor = original.httpVersionMajor;
  req.httpVersionMinor = original.httpVersionMinor;
  req.httpVersion = original.httpVersion;
  req.complete = true;
  req.push(null);
  const res = new ServerResponse(req);
  try {
    listener(req, res);
  } catch {
    revalidationOf(request.headers)?.done();
  }
}
