import { fileURLToPath } from 'node:url';

// Shared vitest options. Tests resolve workspace packages to their TypeScript
// sources through the `@cache/source` export condition, so `test` needs no build.
// Vite adds 'import' or 'require' by itself; listing them here would also hand them to Node for
// external packages and make require() inside a CJS dependency (pg) load its ESM build.
const conditions = ['@cache/source', 'node', 'default'];

/** @type {import('vitest/config').ViteUserConfig} */
export const vitestBase = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@cache/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // In this order: the second reads the run directory the first sets up (and removes last).
    globalSetup: ['./vitest.leftovers.js', './vitest.missing.js'].map((file) =>
      fileURLToPath(new URL(file, import.meta.url)),
    ),
    testTimeout: 20_000,
    hookTimeout: 60_000,
    restoreMocks: true,
  },
};
