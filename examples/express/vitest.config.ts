import { vitestBase } from '@cache-tooling/config/vitest';
import { defineConfig } from 'vitest/config';

// Vitest hands ssr.resolve.conditions to Node as --conditions, and the shared 'import' condition
// makes Node's require() load the ESM build of dual packages (express' router gets
// `{ default }` for is-promise). Only the source condition is needed here.
const conditions = ['@cache/source', 'node'];

export default defineConfig({
  ...vitestBase,
  ssr: { resolve: { conditions, externalConditions: ['@cache/source'] } },
});
