export {
  QueueFullError,
  WriteBehindClosedError,
  WriteBehindCloseTimeoutError,
} from './errors.js';
export type {
  WriteBehindEvents,
  WriteBehindListener,
  WriteBehindOperation,
  WriteBehindStats,
} from './events.js';
export { MemoryQueue, memoryQueue } from './memoryQueue.js';
export type { PendingWrite } from './pendingWrites.js';
export type { WriteBehindEntry, WriteQueue } from './queue.js';
export {
  type BatchRemover,
  type BatchWriter,
  type RetryOptions,
  WriteBehind,
  type WriteBehindOptions,
  writeBehind,
} from './writeBehind.js';
