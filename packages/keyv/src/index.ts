export type { FromKeyvOptions } from './fromKeyv.js';
export { fromKeyv, KeyvStore } from './fromKeyv.js';
export type { ToKeyvOptions } from './toKeyv.js';
export { CacheKeyvAdapter, toKeyv } from './toKeyv.js';
