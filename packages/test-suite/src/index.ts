export { deferred } from './deferred.js';
export type { RunExampleOptions } from './runExample.js';
export { readmeExamples, runExample } from './runExample.js';
export type { StoreCapabilities, StoreTestSuiteOptions } from './storeTestSuite.js';
export { storeTestSuite } from './storeTestSuite.js';
