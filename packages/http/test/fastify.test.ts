import { fastifyFramework } from './harness.js';
import { httpCacheSuite } from './suite.js';

httpCacheSuite(fastifyFramework);
