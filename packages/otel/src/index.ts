export {
  type CacheInstrumentation,
  type CacheInstrumentationOptions,
  instrumentCache,
} from './instrumentation.js';
export { firstSegment, type KeyMode } from './labels.js';
export { BREAKER_STATES, DURATION_BUCKETS, INSTRUMENTS, type InstrumentSpec } from './names.js';
export type { ObservedMemoryStore, ObservedWriteBehind } from './observers.js';
