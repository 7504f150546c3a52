import { parseOptionalDuration as optional, parseDuration, parseTtl } from './duration.js';
import { InvalidArgumentError } from './errors.js';
import type { CacheOptions, GetOrSetOptions } from './options.js';
import type { GatewayPolicy } from './storeGateway.js';
import { checkTags } from './tags.js';
import type { CacheLock, Duration } from './types.js';

/** Loader timeouts. `soft` needs a stale value to serve; `hard` rejects or serves stale. */
export interface TimeoutOptions {
  /** After this long, serve the stale value (if any) and let the loader finish in the background. */
  soft?: Duration;
  /** After this long, abort the loader's signal and reject with `LoaderTimeoutError` (or serve stale). */
  hard?: Duration;
}

/** The longest delay a Node.js timer takes (about 24.8 days); longer ones fire at once. */
export const MAX_TIMER = 2 ** 31 - 1;

/** The cache-wide settings, in ms. */
export interface Policy {
  readonly ttl: number;
  readonly jitter: number;
  readonly grace: number;
  readonly graceBackoff: number;
  readonly negativeTtl: number | undefined;
  readonly soft: number | undefined;
  readonly hard: number | undefined;
  readonly lock: CacheLock | undefined;
  readonly lockTimeout: number;
  readonly lockTtl: number;
  readonly tagTtl: number;
  /**
   * Refresh-ahead: a fraction of the TTL (below 1) or ms after the write (1 and above) past
   * which a hit starts one background refresh; `undefined` for none. See {@link refreshLead}.
   */
  readonly refreshAhead: number | undefined;
  /** Load again even when a fresh value is cached (`getOrSet`'s `forceFresh`). */
  readonly forceFresh?: boolean;
}

/** Settings of the whole cache that no call overrides. */
export interface CachePolicy extends Policy, GatewayPolicy {
  readonly tagRecheck: number;
}

/** The settings of one call: the policy overridden by the call's options. */
export interface Plan extends Policy {
  readonly tags?: string[];
  readonly version?: number | string;
}

/** Reads and checks every option of `createCache`; throws {@link InvalidArgumentError} naming the bad one. */
export function resolvePolicy(options: CacheOptions): CachePolicy {
  const { lock, circuitBreaker } = options;
  if (lock !== undefined && typeof lock?.acquire !== 'function') {
    throw new InvalidArgumentError('lock', 'expected a CacheLock with an acquire() method');
  }
  const breakerFailures = circuitBreaker === false ? undefined : (circuitBreaker?.failures ?? 5);
  if (
    breakerFailures !== undefined &&
    !(Number.isInteger(breakerFailures) && breakerFailures > 0)
  ) {
    throw new InvalidArgumentError('circuitBreaker.failures', 'expected a positive integer');
  }
  return {
    storeTimeout:
      options.storeTimeout === false
        ? undefined
        : timer(options.storeTimeout ?? '2s', 'storeTimeout', true),
    breakerFailures,
    breakerCooldown: timer(
      (circuitBreaker || undefined)?.cooldown ?? '1s',
      'circuitBreaker.cooldown',
      true,
    ),
    ttl: parseTtl(options.ttl ?? '1h'),
    jitter: parseDuration(options.jitter ?? 0, 'jitter'),
    grace: swrGrace(options.swr, graceOf(options.grace, 0)),
    graceBackoff: parseDuration(options.graceBackoff ?? '10s', 'graceBackoff'),
    negativeTtl: optional(options.negativeTtl, 'negativeTtl'),
    soft: optionalTimer(options.timeouts?.soft ?? swrSoft(options.swr), 'timeouts.soft'),
    hard: optionalTimer(options.timeouts?.hard, 'timeouts.hard'),
    lock,
    lockTimeout: timer(options.lockTimeout ?? '10s', 'lockTimeout'),
    lockTtl: timer(options.lockTtl ?? '5s', 'lockTtl', true),
    tagTtl: parseDuration(options.tagTtl ?? '30d', 'tagTtl'),
    refreshAhead: refreshOf(options.refresh, undefined),
    tagRecheck: timer(options.tagRecheck ?? '5s', 'tagRecheck', true),
  };
}

/** Returns the policy itself when a call has no options, so the common path allocates nothing. */
export function resolvePlan(policy: Policy, options: GetOrSetOptions | undefined): Plan {
  if (options === undefined) return policy;
  const { tags, version, swr } = options;
  if (tags !== undefined) checkTags(tags);
  if (version !== undefined && typeof version !== 'string' && !Number.isFinite(version)) {
    throw new InvalidArgumentError(
      'version',
      `expected a string or a finite number, got ${String(version)}`,
    );
  }
  return {
    ttl: options.ttl === undefined ? policy.ttl : parseTtl(options.ttl),
    jitter: options.jitter === undefined ? policy.jitter : parseDuration(options.jitter, 'jitter'),
    grace: swrGrace(swr, graceOf(options.grace, policy.grace)),
    graceBackoff: policy.graceBackoff,
    negativeTtl:
      options.negativeTtl === undefined
        ? policy.negativeTtl
        : parseDuration(options.negativeTtl, 'negativeTtl'),
    // A forced load waits for the loader: the cached value stands in only when it fails.
    soft: options.forceFresh
      ? undefined
      : options.timeouts?.soft !== undefined
        ? timer(options.timeouts.soft, 'timeouts.soft')
        : swr !== undefined
          ? 0
          : policy.soft,
    hard:
      options.timeouts?.hard === undefined
        ? policy.hard
        : timer(options.timeouts.hard, 'timeouts.hard'),
    lock: options.lock === false ? undefined : (options.lock ?? policy.lock),
    lockTimeout: policy.lockTimeout,
    lockTtl: policy.lockTtl,
    tagTtl: policy.tagTtl,
    refreshAhead: refreshOf(options.refresh, policy.refreshAhead),
    forceFresh: options.forceFresh === true,
    tags,
    version,
  };
}

/**
 * How long before its expiry (ms) a hit on an entry stored under `plan` starts a background
 * refresh, or `undefined` without refresh-ahead (or when the threshold is past the TTL).
 *
 * @example refreshLead({ ...plan, ttl: 60_000, refreshAhead: 0.8 }) // 12_000
 */
export function refreshLead(plan: Policy): number | undefined {
  const ahead = plan.refreshAhead;
  if (ahead === undefined) return undefined;
  const lead = ahead < 1 ? plan.ttl * (1 - ahead) : plan.ttl - ahead;
  return lead > 0 ? lead : undefined;
}

function refreshOf(
  refresh: { ahead: Duration } | false | undefined,
  otherwise: number | undefined,
): number | undefined {
  if (refresh === undefined) return otherwise;
  if (refresh === false) return undefined;
  const ahead = refresh?.ahead;
  if (typeof ahead === 'number' && ahead > 0 && ahead < 1) return ahead;
  if (ahead === undefined || (typeof ahead === 'number' && !(ahead >= 1))) {
    throw new InvalidArgumentError(
      'refresh.ahead',
      `expected a fraction of the TTL between 0 and 1 (such as 0.8) or a duration such as '50m', got ${String(ahead)}`,
    );
  }
  return parseDuration(ahead, 'refresh.ahead');
}

// Stale-while-revalidate: at least `swr` of grace, and stale values served without waiting.
function swrGrace(swr: Duration | undefined, grace: number): number {
  return swr === undefined ? grace : Math.max(grace, parseDuration(swr, 'swr'));
}

function swrSoft(swr: Duration | undefined): Duration | undefined {
  return swr === undefined ? undefined : 0;
}

function graceOf(grace: Duration | false | undefined, otherwise: number): number {
  if (grace === undefined) return otherwise;
  return grace === false ? 0 : parseDuration(grace, 'grace');
}

// A duration that arms a timer: at most MAX_TIMER ms, and above 0 where `positive`.
function timer(duration: Duration, argument: string, positive = false): number {
  const ms = parseDuration(duration, argument);
  if (ms > MAX_TIMER) {
    throw new InvalidArgumentError(
      argument,
      `expected at most ${MAX_TIMER} ms (about 24.8 days), got ${ms}`,
    );
  }
  if (positive && ms === 0) throw new InvalidArgumentError(argument, 'expected more than 0 ms');
  return ms;
}

function optionalTimer(duration: Duration | undefined, argument: string): number | undefined {
  return duration === undefined ? undefined : timer(duration, argument);
}
