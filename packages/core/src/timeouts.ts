import { freshness } from './entry.js';
import type { StaleReason } from './events.js';
import type { CacheEntry } from './types.js';

/** What the callers of one flight receive: the value, and why it is stale if it is. */
export interface Outcome<T> {
  readonly value: T;
  /** Set when `value` is a stale value served under grace. */
  readonly stale: StaleReason | undefined;
  /** With a stale value: the error its callers get instead once grace is over (soft timeout: none). */
  readonly error?: unknown;
}

/** What {@link answer} calls back into. */
export interface AnswerHooks {
  /** The current time in ms, to tell whether the stale value is still within grace. */
  now(): number;
  /** The loader failed and the stale value answers instead. */
  loaderFailed(error: unknown): void;
  /**
   * The hard timeout elapsed before the loader settled; `answering` when no answer was given yet
   * (the timeout answers). Returns the error to reject with.
   */
  timedOut(answering: boolean): Error;
}

/** Where {@link answer} sends the first answer of a flight: what its callers receive now. */
export interface FirstAnswer<T> {
  resolve(outcome: Outcome<T>): void;
  reject(error: unknown): void;
}

/**
 * Applies loader timeouts and grace to one loader call: what its callers get (sent to `first`),
 * and when. A stale value is served only while within its grace (checked when served, not when
 * read): on a loader error, at the soft timeout (the loader goes on in the background), or at the
 * hard timeout. `timedOut` is called at the hard timeout whenever the loader has not settled by
 * then. Returns the loader's result bounded by the hard timeout (its error if it comes first):
 * what a caller waits for once a stale value can no longer stand in. `hooks` is called only when
 * there is a stale value or a hard timeout: a miss with neither (most misses) makes no hooks.
 */
export function answer<T>(
  loading: Promise<T>,
  stale: CacheEntry<T> | undefined,
  timeouts: { readonly soft: number | undefined; readonly hard: number | undefined },
  first: FirstAnswer<T>,
  hooks: () => AnswerHooks,
): Promise<T> {
  const { soft, hard } = timeouts;
  if (stale === undefined && hard === undefined) {
    loading.then((value) => first.resolve({ value, stale: undefined }), first.reject);
    return loading;
  }
  const { now, loaderFailed, timedOut } = hooks();
  const fresh = (value: T): Outcome<T> => ({ value, stale: undefined });
  let settleFinal!: { resolve: (value: T) => void; reject: (error: unknown) => void };
  const final = new Promise<T>((resolve, reject) => {
    settleFinal = { resolve, reject };
  });
  final.catch(() => {});
  let answered = false;
  let softTimer: NodeJS.Timeout | undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  const settle = (run: () => void) => {
    if (answered) return;
    answered = true;
    clearTimeout(softTimer);
    run();
  };
  // Still servable: within grace, or still fresh (a forced load or a refresh ahead of expiry).
  const withinGrace = () => stale !== undefined && freshness(stale, now()) !== 'gone';
  loading.then(
    (value) => {
      clearTimeout(hardTimer);
      settleFinal.resolve(value);
      settle(() => first.resolve(fresh(value)));
    },
    (error: unknown) => {
      clearTimeout(hardTimer);
      settleFinal.reject(error);
      // Reported (and backed off) even once a stale value answered at a soft timeout.
      if (withinGrace()) loaderFailed(error);
      if (answered) return;
      if (withinGrace()) {
        settle(() => first.resolve({ value: stale!.value, stale: 'loader-error', error }));
      } else settle(() => first.reject(error));
    },
  );
  if (stale !== undefined && soft === 0) {
    // Stale-while-revalidate: the stale value answers now, the loader goes on.
    if (withinGrace()) settle(() => first.resolve({ value: stale.value, stale: 'soft-timeout' }));
  } else if (stale !== undefined && soft !== undefined) {
    softTimer = setTimeout(() => {
      if (withinGrace()) settle(() => first.resolve({ value: stale.value, stale: 'soft-timeout' }));
    }, soft);
  }
  if (hard !== undefined) {
    // Armed until the loader settles, even once a stale value answered: a loader that never
    // settles must not hold its key.
    hardTimer = setTimeout(() => {
      const error = timedOut(!answered);
      settleFinal.reject(error);
      if (answered) return;
      if (withinGrace()) {
        settle(() => first.resolve({ value: stale!.value, stale: 'hard-timeout', error }));
      } else settle(() => first.reject(error));
    }, hard);
  }
  return final;
}
