// Shared tsup options: every package builds ESM + CJS with declarations for both.
/** @type {import('tsup').Options} */
export const tsupBase = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
};
