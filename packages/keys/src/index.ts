export type { KeyBuilderOptions, KeySegment, KeyspaceOptions } from './keyBuilder.js';
export {
  createKeyBuilder,
  defineKey,
  KeyBuilder,
  key,
  keyspace,
  parseKey,
} from './keyBuilder.js';
export type { KeyTemplate, TemplateParamNames, TemplateParams } from './template.js';
export type { ValidateKeyOptions } from './validateKey.js';
export { assertValidKey, validateKey } from './validateKey.js';
