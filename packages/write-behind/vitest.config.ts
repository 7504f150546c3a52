import { vitestBase } from '@cache-tooling/config/vitest';
import { defineConfig } from 'vitest/config';

// Vitest hands the SSR conditions to Node as --conditions; with 'import' among them, require()
// inside pg picks pg-pool's ESM build and fails. Vite adds import/require per import by itself.
const conditions = ['@cache/source', 'node', 'default'];

export default defineConfig({
  ...vitestBase,
  ssr: { resolve: { conditions, externalConditions: ['@cache/source'] } },
});
