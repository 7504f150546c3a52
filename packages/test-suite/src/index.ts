export { deferred } from './deferred.js';
export type { StoreCapabilities, StoreTestSuiteOptions } from './storeTestSuite.js';
export { storeTestSuite } from './storeTestSuite.js';
