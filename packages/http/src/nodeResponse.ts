import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Conditions, isNotModified, NOT_MODIFIED_HEADERS } from './conditional.js';
import type { FillContext, Filled, StoredResponse } from './httpCache.js';

type Method = (this: ServerResponse, ...args: any[]) => any;

/** The methods of a response that write it out, as they were before a capture replaced them. */
export interface Writers {
  writeHead: Method;
  end: Method;
}

/** What the cache says about where a response came from. */
export type Label = 'HIT' | 'STALE' | 'MISS';

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

/** Puts back what {@link takeConditions} took. */
export function restoreConditions(headers: IncomingHttpHeaders, conditions: Conditions): void {
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

/** The `Age` header of a stored response, in whole seconds. */
export function ageOf(response: StoredResponse): string {
  return String(Math.max(0, Math.floor((Date.now() - response.storedAt) / 1000)));
}

/** Sends a stored response (or a `304` for it) on a Node response. */
export function sendStored(
  res: ServerResponse,
  response: StoredResponse,
  head: boolean,
  conditions: Conditions,
  label: Label,
  writers: Writers = res,
): void {
  res.setHeader('age', ageOf(response));
  res.setHeader('x-cache', label);
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
 * decides: a storable response is collected up to `context.maxBodySize`; a 5xx with a stale
 * response at hand is swallowed and the stale response sent instead; a response matching the
 * client's validators goes out as `304`. Resolves with the response to store or `undefined`,
 * rejects with {@link HandlerStatusError} for a 5xx.
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
  let state: 'pending' | 'live' | 'stale' = 'pending';
  let status = 0;
  let storing = false;
  let ttl = 0;
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
      if (verdict === 'error' && context.stale !== undefined) {
        state = 'stale';
        settle(undefined, new HandlerStatusError(status));
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        for (const [name, value] of Object.entries(preexisting)) res.setHeader(name, value!);
        sendStored(res, context.stale, head, conditions, 'STALE', writers);
        return;
      }
      state = 'live';
      if (verdict === 'error') settle(undefined, new HandlerStatusError(status));
      else if (verdict === 'pass') settle(undefined);
      else {
        storing = true;
        ttl = verdict;
        headers = ownHeaders(res.getHeaders(), preexisting);
      }
      res.setHeader('x-cache', 'MISS');
      if (storing && status === 200 && (conditions.ifNoneMatch || conditions.ifModifiedSince)) {
        if (isNotModified(conditions, headers)) {
          writers.writeHead.call(res, 304, 'Not Modified');
          return;
        }
      }
      writers.writeHead.call(res, status);
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
      if (state === 'stale') return res;
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
      if (storing) settle({ status, headers, body: Buffer.concat(chunks), ttl });
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
