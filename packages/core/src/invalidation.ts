import { InvalidArgumentError } from './errors.js';
import type { EventSource } from './eventSource.js';
import type { InvalidationHandlers, InvalidationTarget } from './options.js';

/** What an invalidation handler's answer is applied with: the cache (or namespace) it was registered on. */
export interface InvalidationActions {
  deleteMany(keys: string[]): Promise<unknown>;
  invalidateTags(tags: string[]): Promise<unknown>;
  /** Clears the keys under `prefix`, relative to the cache or namespace. */
  clearPrefix(prefix: string): Promise<unknown>;
  deletePattern(pattern: string): Promise<unknown>;
}

/**
 * Subscribes a handler per event of `source`; each handler's answer names keys, tags, prefixes
 * and patterns to invalidate. A handler that throws, or an invalidation that fails, goes to
 * `failed` with the event's name, never to the event source. Resolves to a function that stops it.
 */
export async function followEvents(
  source: EventSource,
  handlers: InvalidationHandlers,
  actions: InvalidationActions,
  failed: (error: unknown, event: string) => void,
): Promise<() => void> {
  if (source === null || typeof source?.subscribe !== 'function') {
    throw new InvalidArgumentError(
      'source',
      'expected an EventSource with subscribe(event, listener)',
    );
  }
  if (handlers === null || typeof handlers !== 'object') {
    throw new InvalidArgumentError('handlers', 'expected an object of event handlers');
  }
  const stops = await Promise.all(
    Object.entries(handlers).map(([event, handler]) => {
      if (typeof handler !== 'function') {
        throw new InvalidArgumentError(`handlers.${event}`, 'expected a function');
      }
      return source.subscribe(event, (payload) => {
        apply(handler, payload, actions).catch((error: unknown) => failed(error, event));
      });
    }),
  );
  return () => {
    for (const stop of stops) stop();
  };
}

async function apply(
  handler: InvalidationHandlers[string],
  payload: unknown,
  actions: InvalidationActions,
): Promise<void> {
  const target = await handler(payload);
  if (target === undefined) return;
  const { keys, tags, prefixes, patterns } =
    typeof target === 'string' || Array.isArray(target)
      ? { keys: typeof target === 'string' ? [target] : target }
      : (target as Exclude<InvalidationTarget, string | string[] | undefined | void>);
  await Promise.all([
    keys?.length ? actions.deleteMany(keys) : undefined,
    tags?.length ? actions.invalidateTags(tags) : undefined,
    ...(prefixes ?? []).map((prefix) => actions.clearPrefix(prefix)),
    ...(patterns ?? []).map((pattern) => actions.deletePattern(pattern)),
  ]);
}
