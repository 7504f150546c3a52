import { vitestBase } from '@cache-tooling/config/vitest';
import { defineConfig } from 'vitest/config';

// The package's whole test suite with `ioredis` resolved to ioredis 6 (the `ioredis-6` alias), so
// the clients the package creates itself are ioredis 6 too: `pnpm test:ioredis6`. Child
// processes the tests start (README examples, fixtures) still load ioredis 5.
export default defineConfig({
  ...vitestBase,
  resolve: { ...vitestBase.resolve, alias: { ioredis: 'ioredis-6' } },
});
