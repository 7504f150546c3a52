export { type CacheControl, parseCacheControl } from './cacheControl.js';
export { type Conditions, isNotModified } from './conditional.js';
export {
  createHttpCache,
  type Fill,
  type FillContext,
  type Filled,
  HttpCache,
  type HttpRequest,
  type Outcome,
  type Route,
  type StoredResponse,
  type Verdict,
} from './httpCache.js';
export type { HttpCacheOptions, RouteOptions } from './options.js';
export type { RequestDirectivePolicy } from './requestDirectives.js';
export { responseSize } from './size.js';
export { normalizeUrl } from './url.js';
export { parseVary } from './vary.js';
