export type { BatchContext, BatchLoader } from './batch.js';
export { Cache, createCache } from './cache.js';
export { type CachedOptions, cached, cachedMethod, readThrough } from './cached.js';
export {
  type BreakerMessage,
  type BusChannelMessage,
  channels,
  type EvictMessage,
  type FlushMessage,
  isTraced,
  type KeyMessage,
  type LockMessage,
  type OperationMessage,
  publishOutcome,
  type StoreCallMessage,
  type TracedMessage,
  traced,
  traceStoreCall,
} from './channels.js';
export { type Clock, coarseNow, exactClock, systemClock, timeIsFaked } from './clock.js';
export { parseDuration, parseOptionalDuration, parseTtl } from './duration.js';
export {
  type EntryInfo,
  expired,
  type Freshness,
  freshness,
  graceEnd,
  isSoftExpired,
  SOFT_EXPIRED,
} from './entry.js';
export {
  CacheError,
  CacheInconsistencyError,
  InvalidArgumentError,
  LoaderCycleError,
  LoaderError,
  LoaderTimeoutError,
  LockLostError,
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
  TierStats,
} from './events.js';
export { escapeGlob, globToRegExp } from './glob.js';
export type { LatencyPercentiles } from './latencyWindow.js';
export { mergeTagRecord } from './mergeTagRecord.js';
export type {
  CacheOptions,
  GetOptions,
  GetOrSetOptions,
  InvalidateOptions,
  InvalidationHandlers,
  InvalidationTarget,
  Loader,
  LoaderContext,
  NamespaceOptions,
  SetOptions,
} from './options.js';
export type { TimeoutOptions } from './policy.js';
export { RetryLoop, type RetryRound } from './retryLoop.js';
export { defaultSerializer, jsonSerializer } from './serializer.js';
export { hashKey, stableEncode } from './stableEncode.js';
export { RESERVED_PREFIX } from './tags.js';
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
  StoreWriteOptions,
} from './types.js';
