export {
  Cache,
  type CacheOptions,
  createCache,
  type GetOptions,
  type GetOrSetOptions,
  type InvalidationHandlers,
  type InvalidationTarget,
  type Loader,
  type LoaderContext,
  type NamespaceOptions,
  type SetOptions,
} from './cache.js';
export { type CachedOptions, cached, cachedMethod, readThrough } from './cached.js';
export { coarseNow } from './clock.js';
export { parseDuration, parseOptionalDuration } from './duration.js';
export {
  CacheError,
  CacheInconsistencyError,
  InvalidArgumentError,
  LoaderError,
  LoaderTimeoutError,
  SerializationError,
  StoreError,
  type StoreErrorCode,
} from './errors.js';
export { type EmitterLike, type EventSource, fromEventEmitter } from './eventSource.js';
export type {
  CacheEvents,
  CacheListener,
  CacheOperation,
  CacheStats,
  StaleReason,
} from './events.js';
export { escapeGlob, globToRegExp } from './glob.js';
export type { TimeoutOptions } from './policy.js';
export { defaultSerializer, jsonSerializer } from './serializer.js';
export { hashKey, stableEncode } from './stableEncode.js';
export type {
  CacheEntry,
  CacheLock,
  CacheStore,
  Duration,
  InvalidationBus,
  InvalidationMessage,
  LockHandle,
  MaybePromise,
  Serializer,
} from './types.js';
