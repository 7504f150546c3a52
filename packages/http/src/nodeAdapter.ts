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

/**
 * How an adapter on Node's `res` (Express, Fastify) lets a request go on: one object per adapter,
 * so that a request served from the cache creates no function for them.
 */
export interface NodeHooks<Req, Target> {
  /** Called before the cache answers by itself (Fastify's `reply.hijack()`). */
  takeOver(target: Target): void;
  /** Sends a request through the app in the background, to refresh a stale response. */
  dispatch: Dispatch<Req>;
}

/**
 * The framework's continuation: called without an argument, it hands the request on to the
 * handler; with one, it hands that error to the framework (Express' `next`, Fastify's `done`).
 */
export type Step = (error?: unknown) => void;

/**
 * Answers one request for an adapter that works on Node's `ServerResponse`: from the cache, or by
 * running the handler under a capture, or by letting it through (invalidating after a write).
 * `target` is what `hooks.takeOver` acts on.
 */
export async function handleNode<Req, Target>(
  engine: HttpCache<Req>,
  route: Route<Req>,
  native: Req,
  request: HttpRequest,
  res: ServerResponse,
  hooks: NodeHooks<Req, Target>,
  step: Step,
  target: Target,
): Promise<void> {
  const { headers } = request;
  const conditions = {
    ifNoneMatch: headers['if-none-match'],
    ifModifiedSince: headers['if-modified-since'],
  };
  const head = request.method === 'HEAD';
  let writers: Writers | undefined;
  let outcome: Awaited<ReturnType<HttpCache<Req>['handle']>>;
  try {
    outcome = await engine.handle(
      route,
      native,
      request,
      (context) => {
        writers = { writeHead: res.writeHead, end: res.end };
        takeConditions(headers);
        applyValidators(headers, context.validators);
        let restored = false;
        const restore = () => {
          if (restored) return;
          restored = true;
          restoreConditions(headers, conditions);
        };
        return captureResponse(res, context, conditions, head, () => step(), restore);
      },
      hooks.dispatch,
    );
  } catch (error) {
    return step(error);
  }
  switch (outcome.type) {
    case 'bypass':
      return step();
    case 'write':
      afterWrite(res, (status, sent) => engine.invalidateWritten(request, status, sent));
      return step();
    case 'pass':
      res.setHeader('x-cache', 'MISS');
      return step();
    case 'unavailable':
      hooks.takeOver(target);
      res.statusCode = 504;
      res.end();
      return;
    case 'hit': {
      hooks.takeOver(target);
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
}
