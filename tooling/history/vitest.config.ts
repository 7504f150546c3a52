import { vitestBase } from '@cache-tooling/config/vitest';
import { defineConfig } from 'vitest/config';

export default defineConfig(vitestBase);
