// The benchmarks measure our packages as users install them: the built `dist/index.js` of each,
// not the TypeScript sources through tsx (tsx keeps function names with a helper called at each
// closure's creation, which cost our miss path about a tenth of its speed and the peers, plain
// JavaScript, nothing). A build older than its sources would measure code that is gone, so every
// entry point checks first.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this bench belongs to. */
export const REPOSITORY = resolve(fileURLToPath(import.meta.url), '../../../..');

// The newest modification time of the files under `dir`, in ms.
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * Throws unless every package of the checkout at `root` has a `dist/index.js` at least as new
 * as its `src/`: run `pnpm build` there first (the root's `pnpm bench` does).
 */
export function assertBuilt(root = REPOSITORY): void {
  const packages = join(root, 'packages');
  const stale = readdirSync(packages).filter((name) => {
    const built = join(packages, name, 'dist/index.js');
    if (!existsSync(join(packages, name, 'src'))) return false;
    return !existsSync(built) || statSync(built).mtimeMs < newest(join(packages, name, 'src'));
  });
  if (stale.length > 0) {
    throw new Error(
      `packages/{${stale.join(',')}} in ${root} are not built or older than their sources: run \`pnpm build\` there first`,
    );
  }
}
