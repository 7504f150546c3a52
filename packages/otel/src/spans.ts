import type { KeyMessage, LockMessage, OperationMessage } from '@cache/core';
import { context, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { type KeyMode, keyAttributes } from './labels.js';

/**
 * The spans of @cache's traced calls: each only under a span already active (a cache call
 * outside any trace makes none), keys hashed or left out unless asked for.
 */
export class Spans {
  readonly #tracer: Tracer;
  readonly #keys: KeyMode;
  readonly #open = new WeakMap<object, Span>();
  // The getOrSet span open for each key: its outcome is set on it, its load is its child.
  readonly #byKey = new Map<string, Span>();

  constructor(tracer: Tracer, keys: KeyMode) {
    this.#tracer = tracer;
    this.#keys = keys;
  }

  startGetOrSet(message: KeyMessage): void {
    const span = this.#start('cache getOrSet', message, message.key, undefined);
    if (span !== undefined) this.#byKey.set(message.key, span);
  }

  startLoad(message: KeyMessage): void {
    this.#start('cache load', message, message.key, this.#byKey.get(message.key));
  }

  startLock(message: LockMessage): void {
    this.#start('cache lock.acquire', message, message.key, undefined);
  }

  /** Sets a lookup's outcome on the getOrSet span of its key. */
  outcome(message: OperationMessage): void {
    const span = this.#byKey.get(message.key);
    if (span === undefined) return;
    span.setAttribute('cache.outcome', message.outcome);
    if (message.reason !== undefined) span.setAttribute('cache.stale_reason', message.reason);
  }

  /** Ends the span of a traced call, with its error. */
  end(message: { key: string; error?: unknown }): void {
    const span = this.#open.get(message);
    if (span === undefined) return;
    this.#open.delete(message);
    if (this.#byKey.get(message.key) === span) this.#byKey.delete(message.key);
    if (message.error !== undefined) {
      if (message.error instanceof Error) span.recordException(message.error);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  #start(name: string, message: object, key: string, parent: Span | undefined): Span | undefined {
    const active = context.active();
    if (parent === undefined && trace.getSpan(active) === undefined) return undefined;
    const span = this.#tracer.startSpan(
      name,
      { attributes: keyAttributes(key, this.#keys) },
      parent === undefined ? active : trace.setSpan(active, parent),
    );
    this.#open.set(message, span);
    return span;
  }
}
