import type { LoaderContext } from './options.js';

/**
 * A batch loader of `getOrSetMany`: loads the `missing` keys (as the caller named them, in one
 * call) and returns one result per key, in order, or a `Map` from key to result. A result that
 * is an `Error` fails that key only; `undefined` (or a key left out of the map) is returned and
 * not cached. `context.of(key)` is the key's own loader context: its stale value, its abort
 * signal, and `setTtl`, `setTags` and `skip` for that key.
 */
export type BatchLoader<T> = (
  missing: string[],
  context: BatchContext<T>,
) => Promise<readonly (T | Error)[] | ReadonlyMap<string, T | Error>>;

/** What a {@link BatchLoader} receives besides the keys. */
export interface BatchContext<T> {
  /** The loader context of one of the missing keys. */
  of(key: string): LoaderContext<T>;
}

/**
 * A key's loader context that may no longer need its load: `superseded()` answers what to
 * resolve the key with instead (a newer load of it), or `undefined` to load it.
 */
export interface Supersedable<T> {
  superseded?: (() => Promise<T> | undefined) | undefined;
}

interface Waiting<T> {
  readonly context: LoaderContext<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers the per-key loads of one `getOrSetMany` into batch loader calls: one call as soon as
 * every key it may load has asked (all were missing), else one call for the keys that asked by
 * the next turn of the event loop (the others were fresh, or joined loads already running), and
 * one more for any key that asks later (a read that waited on the store).
 */
export class Batch<T> {
  #waiting = new Map<string, Waiting<T>>();
  #timer: NodeJS.Immediate | undefined;
  #expected: number;

  constructor(
    readonly loader: BatchLoader<T>,
    /** How many keys may ask: the first call goes out once they all have. */
    expected: number,
  ) {
    this.#expected = expected;
  }

  /** The loader of one key: resolves that key's result once its batch call returns. */
  load = (context: LoaderContext<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      this.#waiting.set(context.key, { context, resolve, reject });
      if (this.#waiting.size >= this.#expected) this.#dispatch();
      else this.#timer ??= setImmediate(() => this.#dispatch());
    });

  #dispatch(): void {
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#expected -= waiting.size;
    this.#waiting = new Map();
    // A key whose load a mutation voided since it asked, and which a newer load serves.
    for (const [key, { context, resolve, reject }] of waiting) {
      const instead = (context as Supersedable<T>).superseded?.();
      if (instead === undefined) continue;
      waiting.delete(key);
      instead.then(resolve, reject);
    }
    if (waiting.size === 0) return;
    const keys = [...waiting.keys()];
    let results: ReturnType<BatchLoader<T>>;
    try {
      results = Promise.resolve(
        this.loader(keys, {
          of: (key) => {
            const context = waiting.get(key)?.context;
            if (context === undefined)
              throw new RangeError(`${key} is not one of the missing keys`);
            return context;
          },
        }),
      );
    } catch (error) {
      results = Promise.reject(error);
    }
    results.then(
      (answer) => {
        const byKey = answer instanceof Map;
        if (!byKey && (!Array.isArray(answer) || answer.length !== keys.length)) {
          const error = new TypeError(
            `the batch loader returned ${Array.isArray(answer) ? `${answer.length} results` : typeof answer} for ${keys.length} keys`,
          );
          for (const { reject } of waiting.values()) reject(error);
          return;
        }
        keys.forEach((key, i) => {
          const result = byKey
            ? (answer as ReadonlyMap<string, T | Error>).get(key)
            : (answer as readonly (T | Error)[])[i];
          const { resolve, reject } = waiting.get(key)!;
          if (result instanceof Error) reject(result);
          else resolve(result as T);
        });
      },
      (error: unknown) => {
        for (const { reject } of waiting.values()) reject(error);
      },
    );
  }
}
