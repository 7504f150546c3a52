import { InvalidArgumentError } from './errors.js';
import type { Duration } from './types.js';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/**
 * Converts a {@link Duration} to milliseconds. Throws {@link InvalidArgumentError} naming
 * `argument` for NaN, negative or infinite numbers and for strings it cannot read.
 *
 * @example parseDuration('1h') // 3_600_000
 */
export function parseDuration(duration: Duration, argument = 'ttl'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new InvalidArgumentError(
        argument,
        `expected a finite, non-negative number of ms, got ${duration}`,
      );
    }
    return duration;
  }
  if (typeof duration === 'string') {
    const match = PATTERN.exec(duration.trim());
    if (match) return Number(match[1]) * UNITS[match[2]!]!;
  }
  throw new InvalidArgumentError(
    argument,
    `expected ms or a string like '30s', '5m', '1h', got ${JSON.stringify(duration)}`,
  );
}

/** Like {@link parseDuration}, but `undefined` stays `undefined`. */
export function parseOptionalDuration(
  duration: Duration | undefined,
  argument: string,
): number | undefined {
  return duration === undefined ? undefined : parseDuration(duration, argument);
}

/**
 * Like {@link parseDuration}, for a TTL: `'forever'` and `Infinity` also mean a value that never
 * expires (`Infinity`).
 *
 * @example parseTtl('forever') // Infinity
 */
export function parseTtl(ttl: Duration, argument = 'ttl'): number {
  if (ttl === 'forever' || ttl === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return parseDuration(ttl, argument);
}
