// The benchmarks measure our packages as users install them: the built `dist/index.js` of each,
// not the TypeScript sources through tsx (tsx keeps function names with a helper called at each
// closure's creation, which cost our miss path about a tenth of its speed and the peers, plain
// JavaScript, nothing). So every entry point builds first: turbo rebuilds what changed and
// restores the rest from its cache, in a few seconds.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository this bench belongs to.
const REPOSITORY = resolve(fileURLToPath(import.meta.url), '../../../..');

const built = new Set<string>();

/** Builds the packages of the checkout at `root` (`turbo run build`), once per process. */
export function buildPackages(root = REPOSITORY): void {
  if (built.has(root)) return;
  execFileSync('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  built.add(root);
}
