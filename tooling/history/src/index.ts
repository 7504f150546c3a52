export {
  type CheckOptions,
  type CheckResult,
  checkHistory,
  type Violation,
} from './check/checkHistory.js';
export { type HeapTrend, heapTrends } from './check/heap.js';
export { type LockHolderCycle, lockHolderCycles, sharedLeases } from './check/loads.js';
export { type StaleRead, staleReads } from './check/staleness.js';
export { resultTable } from './check/table.js';
export { checkWriteBehind } from './check/writeBehind.js';
export type * from './history.js';
export { readHistory } from './history.js';
export { checkOptions } from './options.js';
export { type RunOptions, type RunResult, runHistory } from './run.js';
