export { parseDuration, parseOptionalDuration } from './duration.js';
export {
  CacheError,
  CacheInconsistencyError,
  InvalidArgumentError,
  LoaderError,
  LoaderTimeoutError,
  SerializationError,
  StoreError,
} from './errors.js';
export { defaultSerializer, jsonSerializer } from './serializer.js';
export { hashKey, stableEncode } from './stableEncode.js';
export type {
  CacheEntry,
  CacheLock,
  CacheStore,
  Duration,
  LockHandle,
  MaybePromise,
  Serializer,
} from './types.js';
