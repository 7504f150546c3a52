import { parseOptionalDuration as optional, parseDuration } from './duration.js';
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
    ttl: parseDuration(options.ttl ?? '1h', 'ttl'),
    jitter: parseDuration(options.jitter ?? 0, 'jitter'),
    grace: graceOf(options.grace, 0),
    graceBackoff: parseDuration(options.graceBackoff ?? '10s', 'graceBackoff'),
    negativeTtl: optional(options.negativeTtl, 'negativeTtl'),
    soft: optionalTimer(options.timeouts?.soft, 'timeouts.soft'),
    hard: optionalTimer(options.timeouts?.hard, 'timeouts.hard'),
    lock,
    lockTimeout: timer(options.lockTimeout ?? '10s', 'lockTimeout'),
    lockTtl: timer(options.lockTtl ?? '5s', 'lockTtl', true),
    tagTtl: parseDuration(options.tagTtl ?? '30d', 'tagTtl'),
    tagRecheck: timer(options.tagRecheck ?? '5s', 'tagRecheck', true),
  };
}

/** Returns the policy itself when a call has no options, so the common path allocates nothing. */
export function resolvePlan(policy: Policy, options: GetOrSetOptions | undefined): Plan {
  if (options === undefined) return policy;
  const { tags, version } = options;
  if (tags !== undefined) checkTags(tags);
  if (version !== undefined && typeof version !== 'string' && !Number.isFinite(version)) {
    throw new InvalidArgumentError(
      'version',
      `expected a string or a finite number, got ${String(version)}`,
    );
  }
  return {
    ttl: options.ttl === undefined ? policy.ttl : parseDuration(options.ttl, 'ttl'),
    jitter: options.jitter === undefined ? policy.jitter : parseDuration(options.jitter, 'jitter'),
    grace: graceOf(options.grace, policy.grace),
    graceBackoff: policy.graceBackoff,
    negativeTtl:
      options.negativeTtl === undefined
        ? policy.negativeTtl
        : parseDuration(options.negativeTtl, 'negativeTtl'),
    soft:
      options.timeouts?.soft === undefined
        ? policy.soft
        : timer(options.timeouts.soft, 'timeouts.soft'),
    hard:
      options.timeouts?.hard === undefined
        ? policy.hard
        : timer(options.timeouts.hard, 'timeouts.hard'),
    lock: options.lock === false ? undefined : (options.lock ?? policy.lock),
    lockTimeout: policy.lockTimeout,
    lockTtl: policy.lockTtl,
    tagTtl: policy.tagTtl,
    tags,
    version,
  };
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
