import { tsupBase } from '@cache-tooling/config/tsup';
import { defineConfig } from 'tsup';

// devalue is bundled so @cache/core has no runtime dependency and its CJS build loads on every Node 20.
export default defineConfig({ ...tsupBase, noExternal: ['devalue'] });
