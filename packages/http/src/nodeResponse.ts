import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Conditions, isNotModified, NOT_MODIFIED_HEADERS } from './conditional.js';
import { satisfiable } from './range.js';
import type { FillContext, Filled, StoredResponse } from './types.js';

type Method = (this: ServerResponse, ...args: any[]) => any;

/** The methods of a response that write it out, as they were before a capture replaced them. */
export interface Writers {
  writeHead: Method;
  end: Method;
}

/** What the cache says about where a response came from. */
export type Label = 'HIT' | 'STALE' | 'MISS' | 'REVALIDATED';

/** The error a fill rejects with when the handler answered 5xx. */
export class HandlerStatusError extends Error {
  constructor(readonly status: number) {
    super(`[cache] [http] the handler answered ${status}`);
  }
}

/** Takes the validators out of the request headers, so that the handler answers in full. */
export function takeConditions(headers: IncomingHttpHeaders): Conditions {
  const conditions = {
    ifNoneMatch: headers['if-none-match'],
    ifModifiedSince: headers['if-modified-since'],
  };
  delete headers['if-none-match'];
  delete headers['if-modified-since'];
  return conditions;
}

/** Sends the handler the stored response's validators, to revalidate it (a `304` confirms it). */
export function applyValidators(
  headers: IncomingHttpHeaders,
  validators: Conditions | undefined,
): void {
  if (validators?.ifNoneMatch !== undefined) headers['if-none-match'] = validators.ifNoneMatch;
  if (validators?.ifModifiedSince !== undefined) {
    headers['if-modified-since'] = validators.ifModifiedSince;
  }
}

/** Puts back what {@link takeConditions} took, dropping the validators the cache sent. */
export function restoreConditions(headers: IncomingHttpHeaders, conditions: Conditions): void {
  delete headers['if-none-match'];
  delete headers['if-modified-since'];
  if (conditions.ifNoneMatch !== undefined) headers['if-none-match'] = conditions.ifNoneMatch;
  if (conditions.ifModifiedSince !== undefined) {
    headers['if-modified-since'] = conditions.ifModifiedSince;
  }
}

/** Whether the client's validators let a stored response be answered with `304`. */
export function notModified(response: StoredResponse, conditions: Conditions): boolean {
  return (
    response.status === 200 &&
    (conditions.ifNoneMatch !== undefined || conditions.ifModifiedSince !== undefined) &&
    isNotModified(conditions, response.headers)
  );
}

/** The `Age` header of a stored response, in whole seconds: its age when stored, plus its time in the cache. */
export function ageOf(response: StoredResponse): string {
  return String(Math.max(0, Math.floor((response.age + Date.now() - response.storedAt) / 1000)));
}

/** The label of a stored response sent now: `HIT` while fresh, `STALE` past it. */
export function labelOf(response: StoredResponse): Label {
  return response.expires > Date.now() ? 'HIT' : 'STALE';
}

/** Sends a stored response (or a `304` for it) on a Node response. */
export function sendStored(
  res: ServerResponse,
  response: StoredResponse,
  head: boolean,
  conditions: Conditions,
  label: Label,
  writers: Writers = res,
  range?: string,
): void {
  res.setHeader('age', ageOf(response));
  res.setHeader('x-cache', label);
  if (range !== undefined && response.status === 200 && !head) {
    const part = satisfiable(range, response.body.length);
    if (part !== undefined) {
      const total = response.body.length;
      const status = part === 'unsatisfiable' ? 416 : 206;
      const headers = { ...response.headers };
      const body =
        part === 'unsatisfiable' ? Buffer.alloc(0) : response.body.subarray(part[0], part[1] + 1);
      headers['content-range'] =
        part === 'unsatisfiable' ? `bytes */${total}` : `bytes ${part[0]}-${part[1]}/${total}`;
      headers['content-length'] = String(body.length);
      writers.writeHead.call(res, status, headers);
      writers.end.call(res, body);
      return;
    }
  }
  if (notModified(response, conditions)) {
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = response.headers[name];
      if (value !== undefined) res.setHeader(name, value);
    }
    writers.writeHead.call(res, 304);
    writers.end.call(res);
    return;
  }
  writers.writeHead.call(res, response.status, response.headers);
  if (head) writers.end.call(res);
  else if (response.body.length > SMALL_BODY) writers.end.call(res, response.body);
  // Node sends a string body together with the head in one buffer, where a Buffer body takes a
  // writev of two; latin1 maps every byte to one character, so the bytes go out unchanged.
  else writers.end.call(res, response.body.toString('latin1'), 'latin1');
}

const SMALL_BODY = 16_384;

/**
 * Captures what the handler writes to `res` while letting it through to the client as it is
 * written (streaming stays streaming). Once the status and headers are known, `context.judge`
 * decides: a storable response is collected up to `context.maxBodySize`; a 5xx with a fallback
 * at hand is swallowed and the fallback sent instead; a `304` confirming the stale response is
 * held back (the caller sends the refreshed response); a response matching the client's
 * validators goes out as `304`. The headers actually sent are judged again, so that one added on
 * the way out (a session's `Set-Cookie`) stops the store. Resolves with the response to store or
 * `undefined`, rejects with {@link HandlerStatusError} for a 5xx.
 */
export function captureResponse(
  res: ServerResponse,
  context: FillContext,
  conditions: Conditions,
  head: boolean,
  run: () => void,
  done: () => void,
): Promise<Filled | undefined> {
  const preexisting = { ...res.getHeaders() };
  const writers = { writeHead: res.writeHead, write: res.write, end: res.end } as Record<
    'writeHead' | 'write' | 'end',
    Method
  >;
  let state: 'pending' | 'live' | 'stale' | 'held' = 'pending';
  let status = 0;
  let storing = false;
  let headers: OutgoingHttpHeaders = {};
  let chunks: Buffer[] = [];
  let size = 0;
  let settled = false;

  return new Promise<Filled | undefined>((resolve, reject) => {
    const settle = (value: Filled | undefined, error?: Error) => {
      if (settled) return;
      settled = true;
      storing = false;
      chunks = [];
      if (error === undefined) resolve(value);
      else reject(error);
    };

    const decide = () => {
      status = res.statusCode;
      const verdict = context.judge(status, res.getHeaders());
      if (verdict === 'error' && context.fallback !== undefined) {
        state = 'stale';
        settle(undefined, new HandlerStatusError(status));
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        for (const [name, value] of Object.entries(preexisting)) res.setHeader(name, value!);
        sendStored(res, context.fallback, head, conditions, 'STALE', writers);
        return;
      }
      if (status === 304 && verdict === 'store') {
        // The handler confirmed the stale response: the caller sends it, refreshed.
        state = 'held';
        headers = ownHeaders(res.getHeaders(), preexisting);
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        for (const [name, value] of Object.entries(preexisting)) res.setHeader(name, value!);
        return;
      }
      state = 'live';
      if (verdict === 'error') settle(undefined, new HandlerStatusError(status));
      else if (verdict === 'pass') settle(undefined);
      else {
        storing = true;
        headers = ownHeaders(res.getHeaders(), preexisting);
      }
      res.setHeader('x-cache', 'MISS');
      if (
        storing &&
        status === 200 &&
        (conditions.ifNoneMatch || conditions.ifModifiedSince) &&
        isNotModified(conditions, headers)
      ) {
        writers.writeHead.call(res, 304, 'Not Modified');
      } else writers.writeHead.call(res, status);
      // Judged again on what went out: a listener on the way out may have added a cookie.
      if (storing && context.judge(status, res.getHeaders()) !== 'store') settle(undefined);
    };

    const collect = (chunk: unknown, encoding: unknown) => {
      if (!storing || chunk === undefined || chunk === null || typeof chunk === 'function') return;
      const buffer = Buffer.isBuffer(chunk)
        ? chunk
        : typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk as Uint8Array);
      size += buffer.length;
      if (size > context.maxBodySize) settle(undefined);
      else chunks.push(buffer);
    };

    const writeHead: Method = function (this: ServerResponse, status, reason, fields) {
      if (state === 'stale' || state === 'held') return res;
      if (state === 'live') return writers.writeHead.apply(res, [status, reason, fields]);
      if (typeof reason !== 'string') fields = reason;
      else res.statusMessage = reason;
      setFields(res, fields);
      res.statusCode = status;
      decide();
      return res;
    };
    const write: Method = (chunk, encoding, callback) => {
      if (state === 'pending') writeHead.call(res, res.statusCode);
      collect(chunk, encoding);
      if (state === 'live') return writers.write.call(res, chunk, encoding, callback);
      const cb = typeof encoding === 'function' ? encoding : callback;
      if (typeof cb === 'function') process.nextTick(cb);
      return true;
    };
    const end: Method = (chunk, encoding, callback) => {
      if (state === 'pending') writeHead.call(res, res.statusCode);
      collect(chunk, encoding);
      if (storing) settle({ status, headers, body: Buffer.concat(chunks) });
      if (state === 'held') {
        // Back to the real methods, for the caller to send the refreshed response.
        res.writeHead = writers.writeHead as ServerResponse['writeHead'];
        res.write = writers.write as ServerResponse['write'];
        res.end = writers.end as ServerResponse['end'];
        settle({ status: 304, headers, body: Buffer.alloc(0) });
      }
      settle(undefined);
      done();
      if (state === 'live') return writers.end.call(res, chunk, encoding, callback);
      const cb = [chunk, encoding, callback].find((arg) => typeof arg === 'function');
      if (cb !== undefined) process.nextTick(cb);
      return res;
    };
    res.writeHead = writeHead as ServerResponse['writeHead'];
    res.write = write as ServerResponse['write'];
    res.end = end as ServerResponse['end'];
    // A client that goes away before the end leaves nothing to store.
    res.once('close', () => {
      settle(undefined);
      done();
    });
    run();
  });
}

// Applies the headers given to writeHead, in any of the forms Node accepts.
function setFields(res: ServerResponse, fields: unknown): void {
  if (fields === undefined || fields === null) return;
  if (Array.isArray(fields)) {
    if (Array.isArray(fields[0])) {
      for (const [name, value] of fields as [string, string][]) res.appendHeader(name, value);
    } else {
      for (let i = 0; i + 1 < fields.length; i += 2) res.appendHeader(fields[i], fields[i + 1]);
    }
    return;
  }
  for (const [name, value] of Object.entries(fields as OutgoingHttpHeaders)) {
    if (value !== undefined) res.setHeader(name, value);
  }
}

/** The headers the handler set: those that were not there, unchanged, before the cache ran. */
export function ownHeaders(
  headers: OutgoingHttpHeaders,
  preexisting: OutgoingHttpHeaders,
): OutgoingHttpHeaders {
  const own: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!same(value, preexisting[name])) own[name] = value;
  }
  return own;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return (
    Array.isArray(a) &&
    Array.isArray(b) &&
    a.length === b.length &&
    a.every((value, i) => value === b[i])
  );
}
