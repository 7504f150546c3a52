export { deferred } from './deferred.js';
export type { RunExampleOptions, RunningExample } from './runExample.js';
export { readmeExamples, runExample, startExample } from './runExample.js';
export type { StoreCapabilities, StoreTestSuiteOptions } from './storeTestSuite.js';
export { storeTestSuite } from './storeTestSuite.js';
export type { TagRaceSuiteOptions } from './tagRaceSuite.js';
export { tagRaceSuite } from './tagRaceSuite.js';
