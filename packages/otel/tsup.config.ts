import { tsupBase } from '@cache-tooling/config/tsup';
import { defineConfig } from 'tsup';

export default defineConfig(tsupBase);
