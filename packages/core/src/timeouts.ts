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

/** What {@link answer} gives: the first answer, and the loader's bounded by the hard timeout. */
export interface Answers<T> {
  /** What the callers of the flight receive now. */
  readonly first: Promise<Outcome<T>>;
  /**
   * The loader's result, or the hard timeout's error if it comes first: what a caller waits
   * for once a stale value can no longer stand in.
   */
  readonly final: Promise<T>;
}

/**
 * Applies loader timeouts and grace to one loader call: what its callers get, and when. A stale
 * value is served only while within its grace (checked when served, not when read): on a loader
 * error, at the soft timeout (the loader goes on in the background), or at the hard timeout.
 * `timedOut` is called at the hard timeout whenever the loader has not settled by then.
 */
export function answer<T>(
  loading: Promise<T>,
  stale: CacheEntry<T> | undefined,
  timeouts: { readonly soft: number | undefined; readonly hard: number | undefined },
  hooks: AnswerHooks,
): Answers<T> {
  const { soft, hard } = timeouts;
  const fresh = (value: T): Outcome<T> => ({ value, stale: undefined });
  if (stale === undefined && hard === undefined)
    return { first: loading.then(fresh), final: loading };
  let settleFinal!: { resolve: (value: T) => void; reject: (error: unknown) => void };
  const final = new Promise<T>((resolve, reject) => {
    settleFinal = { resolve, reject };
  });
  final.catch(() => {});
  const first = new Promise<Outcome<T>>((resolve, reject) => {
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
    const withinGrace = () => stale !== undefined && freshness(stale, hooks.now()) !== 'gone';
    loading.then(
      (value) => {
        clearTimeout(hardTimer);
        settleFinal.resolve(value);
        settle(() => resolve(fresh(value)));
      },
      (error: unknown) => {
        clearTimeout(hardTimer);
        settleFinal.reject(error);
        // Reported (and backed off) even once a stale value answered at a soft timeout.
        if (withinGrace()) hooks.loaderFailed(error);
        if (answered) return;
        if (withinGrace()) {
          settle(() => resolve({ value: stale!.value, stale: 'loader-error', error }));
        } else settle(() => reject(error));
      },
    );
    if (stale !== undefined && soft === 0) {
      // Stale-while-revalidate: the stale value answers now, the loader goes on.
      if (withinGrace()) settle(() => resolve({ value: stale.value, stale: 'soft-timeout' }));
    } else if (stale !== undefined && soft !== undefined) {
      softTimer = setTimeout(() => {
        if (withinGrace()) settle(() => resolve({ value: stale.value, stale: 'soft-timeout' }));
      }, soft);
    }
    if (hard !== undefined) {
      // Armed until the loader settles, even once a stale value answered: a loader that never
      // settles must not hold its key.
      hardTimer = setTimeout(() => {
        const error = hooks.timedOut(!answered);
        settleFinal.reject(error);
        if (answered) return;
        if (withinGrace()) {
          settle(() => resolve({ value: stale!.value, stale: 'hard-timeout', error }));
        } else settle(() => reject(error));
      }, hard);
    }
  });
  return { first, final };
}
