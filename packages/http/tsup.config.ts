import { tsupBase } from '@cache-tooling/config/tsup';
import { defineConfig } from 'tsup';

export default defineConfig({
  ...tsupBase,
  entry: ['src/index.ts', 'src/express.ts', 'src/koa.ts', 'src/fastify.ts'],
});
