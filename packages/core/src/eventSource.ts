/**
 * A source of named events that invalidation can follow: a Node `EventEmitter`
 * ({@link fromEventEmitter}), a Redis pub/sub channel (`redisEvents` from `@cache/redis`), or
 * any bus, in a few lines.
 *
 * @example
 * // NATS, say: one subject per event name.
 * const source: EventSource = {
 *   subscribe(event, listener) {
 *     const sub = nats.subscribe(event, { callback: (_, msg) => listener(msg.json()) });
 *     return () => sub.unsubscribe();
 *   },
 * };
 */
export interface EventSource {
  /**
   * Calls `listener` with the payload of every `event`; returns, or resolves to once listening,
   * a function that stops it.
   */
  subscribe(event: string, listener: (payload: any) => void): (() => void) | Promise<() => void>;
}

/** The part of a Node `EventEmitter` that {@link fromEventEmitter} needs. */
export interface EmitterLike {
  on(event: string, listener: (payload: any) => void): unknown;
  off(event: string, listener: (payload: any) => void): unknown;
}

/**
 * Follows the events of a Node `EventEmitter` (the payload is the first argument of `emit`).
 *
 * @example
 * const events = new EventEmitter();
 * await cache.invalidateOn(fromEventEmitter(events), { 'user.updated': (e) => [`user:${e.userId}`] });
 * events.emit('user.updated', { userId: 123 });
 */
export function fromEventEmitter(emitter: EmitterLike): EventSource {
  return {
    subscribe(event, listener) {
      emitter.on(event, listener);
      return () => {
        emitter.off(event, listener);
      };
    },
  };
}
