/** Base class of every error @cache throws; `code` is stable and safe to switch on. */
export class CacheError extends Error {
  /** A stable machine-readable code such as `'E_INVALID_ARGUMENT'`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument is missing, of the wrong type or out of range; `argument` names it. */
export class InvalidArgumentError extends CacheError {
  /** The name of the offending argument or option, such as `'key'` or `'ttl'`. */
  readonly argument: string;

  constructor(argument: string, message: string) {
    super('E_INVALID_ARGUMENT', `[cache] invalid ${argument}: ${message}`);
    this.argument = argument;
  }
}

/** The serializer could not encode or decode a value. */
export class SerializationError extends CacheError {
  /** `'serialize'` when encoding failed, `'deserialize'` when decoding did. */
  readonly operation: 'serialize' | 'deserialize';

  constructor(operation: 'serialize' | 'deserialize', message: string, cause?: unknown) {
    super('E_SERIALIZATION', `[cache] cannot ${operation} value: ${message}`, { cause });
    this.operation = operation;
  }
}

/**
 * The `code` of a {@link StoreError}:
 * - `'E_STORE'`: the store failed in another way (its `cause` says how);
 * - `'E_STORE_UNAVAILABLE'`: the server cannot be reached, or the circuit breaker is open;
 * - `'E_STORE_TIMEOUT'`: the operation did not answer in time;
 * - `'E_STORE_CLOSED'`: the store was used after `close()`;
 * - `'E_STORE_CONTRACT'`: the store answered something the `CacheStore` contract does not allow;
 * - `'E_TIER_FAILED'`: a tier of a multilevel store failed (its `cause` is the tier's error);
 * - `'E_UNSUPPORTED'`: the store cannot do this operation (such as `deletePattern`).
 */
export type StoreErrorCode =
  | 'E_STORE'
  | 'E_STORE_UNAVAILABLE'
  | 'E_STORE_TIMEOUT'
  | 'E_STORE_CLOSED'
  | 'E_STORE_CONTRACT'
  | 'E_TIER_FAILED'
  | 'E_UNSUPPORTED';

/** A store operation failed (connection lost, timeout, open circuit); `cause` holds the reason. */
export class StoreError extends CacheError {
  /** Which way it failed: one of {@link StoreErrorCode}, safe to switch on. */
  declare readonly code: StoreErrorCode;
  /** The {@link CacheStore.name} of the failing store. */
  readonly store: string;

  constructor(
    store: string,
    message: string,
    options?: { cause?: unknown; code?: StoreErrorCode },
  ) {
    super(options?.code ?? 'E_STORE', `[cache] [${store}] ${message}`, options);
    this.store = store;
  }
}

/** The loader given to `getOrSet` (or a function wrapped by `cached`) threw; `cause` is its error. */
export class LoaderError extends CacheError {
  /** The cache key being loaded. */
  readonly key: string;

  constructor(key: string, cause: unknown) {
    super('E_LOADER', `[cache] loader failed for key "${key}": ${describe(cause)}`, { cause });
    this.key = key;
  }
}

/** The loader ran past the hard timeout and there was no stale value to serve instead. */
export class LoaderTimeoutError extends CacheError {
  /** The cache key being loaded. */
  readonly key: string;
  /** The timeout that elapsed, in ms. */
  readonly timeout: number;

  constructor(key: string, timeout: number) {
    super('E_LOADER_TIMEOUT', `[cache] loader for key "${key}" timed out after ${timeout}ms`);
    this.key = key;
    this.timeout = timeout;
  }
}

/**
 * A loader called `getOrSet` (directly or through a `cached` function) for the very key it is
 * loading, before its first `await`: it would wait for itself forever. The inner call rejects
 * with this error; the outer loader sees it.
 */
export class LoaderCycleError extends CacheError {
  /** The cache key being loaded. */
  readonly key: string;

  constructor(key: string) {
    super(
      'E_LOADER_CYCLE',
      `[cache] the loader of key "${key}" asked for "${key}" itself, which would wait for itself forever`,
    );
    this.key = key;
  }
}

/**
 * The database write of `writeThrough` succeeded but the cache could neither store the new value
 * nor delete the old one, so the cache may serve the old value until it expires.
 */
export class CacheInconsistencyError extends CacheError {
  /** The key that may hold a stale value. */
  readonly key: string;

  constructor(key: string, cause: unknown) {
    super(
      'E_INCONSISTENT',
      `[cache] key "${key}" may be stale: the cache write and the delete that replaces it both failed`,
      { cause },
    );
    this.key = key;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A loader finished after its process lost the lock it loaded under (its lease lapsed, or the
 * lock store failed), so its value was returned to its callers but not stored: another process
 * may hold the lock and be loading a newer value. Reported as an `error` event with
 * `dropped: true`, never thrown.
 */
export class LockLostError extends CacheError {
  /** The cache key whose value was not stored. */
  readonly key: string;

  constructor(key: string) {
    super(
      'E_LOCK_LOST',
      `[cache] the lock on key "${key}" lapsed before its loaded value was stored; the value was not stored`,
    );
    this.key = key;
  }
}
