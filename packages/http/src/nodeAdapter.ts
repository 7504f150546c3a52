import type { ServerResponse } from 'node:http';
import type { HttpCache } from './httpCache.js';
import {
  applyValidators,
  captureResponse,
  labelOf,
  restoreConditions,
  sendStored,
  takeConditions,
  type Writers,
} from './nodeResponse.js';
import type { Dispatch } from './revalidation.js';
import type { HttpRequest, Route } from './types.js';
import { afterWrite } from './unsafe.js';

/** How an adapter on Node's `res` (Express, Fastify) lets a request go on. */
export interface NodeHooks {
  /** Hands the request on to the handler. */
  next(): void;
  /** Hands an error to the framework. */
  fail(error: unknown): void;
  /** Called before the cache answers by itself (Fastify's `reply.hijack()`). */
  takeOver(): void;
  /** Sends a request through the app in the background, to refresh a stale response. */
  dispatch: Dispatch;
}

/**
 * Answers one request for an adapter that works on Node's `ServerResponse`: from the cache, or by
 * running the handler under a capture, or by letting it through (invalidating after a write).
 */
export function handleNode<Req>(
  engine: HttpCache<Req>,
  route: Route<Req>,
  native: Req,
  request: HttpRequest,
  res: ServerResponse,
  hooks: NodeHooks,
): void {
  const { headers } = request;
  const writers: Writers = { writeHead: res.writeHead, end: res.end };
  const conditions = {
    ifNoneMatch: headers['if-none-match'],
    ifModifiedSince: headers['if-modified-since'],
  };
  const head = request.method === 'HEAD';
  engine
    .handle(
      route,
      native,
      request,
      (context) => {
        takeConditions(headers);
        applyValidators(headers, context.validators);
        let restored = false;
        const restore = () => {
          if (restored) return;
          restored = true;
          restoreConditions(headers, conditions);
        };
        return captureResponse(res, context, conditions, head, hooks.next, restore);
      },
      hooks.dispatch,
    )
    .then((outcome) => {
      switch (outcome.type) {
        case 'bypass':
          return hooks.next();
        case 'write':
          afterWrite(res, (status, sent) => engine.invalidateWritten(request, status, sent));
          return hooks.next();
        case 'pass':
          res.setHeader('x-cache', 'MISS');
          return hooks.next();
        case 'unavailable':
          hooks.takeOver();
          res.statusCode = 504;
          return res.end();
        case 'hit': {
          hooks.takeOver();
          const { response, range } = outcome;
          return sendStored(res, response, head, conditions, labelOf(response), res, range);
        }
        case 'filled':
          // A 304 from the handler confirmed the stale response: send it, refreshed.
          if (outcome.response !== undefined && !res.headersSent) {
            sendStored(res, outcome.response, head, conditions, 'REVALIDATED', writers);
          }
        // 'failed': the capture has answered this request already.
      }
    }, hooks.fail);
}
