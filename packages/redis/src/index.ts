export type { BreakerState, CircuitBreakerOptions } from './breaker.js';
export type {
  RedisClient,
  RedisConnectionOptions,
  RedisEvents,
  RedisStats,
  RedisWarning,
} from './connection.js';
export type { BusMessage, RedisBusEvents, RedisBusOptions, RedisBusStats } from './redisBus.js';
export { RedisBus, redisBus } from './redisBus.js';
export type {
  RedisEventSourceEvents,
  RedisEventSourceStats,
  RedisEventsOptions,
} from './redisEvents.js';
export { RedisEventSource, redisEvents } from './redisEvents.js';
export type { RedisLockOptions } from './redisLock.js';
export { RedisLock, redisLock } from './redisLock.js';
export type { RedisStoreOptions, RedisStoreStats } from './redisStore.js';
export { RedisStore, redisStore } from './redisStore.js';
