// BENCH_BASELINE=<path to another checkout of this repository>: tables (a), (a2), (b), (d), (g)
// and (i) add rows for our code as that checkout has it ("… (before)"), measured in the same run
// as the current code, each in worker processes of its own, so that before and after get paired
// per-round ratios. The checkout's packages load from their builds
// (packages/<name>/dist/index.js) by absolute path, as ours do, built first; their own imports of
// each other resolve in that checkout (it needs its own `pnpm install`). Without the variable
// nothing changes.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildPackages } from './built.js';

const ENV = 'BENCH_BASELINE';

/** The suffix of a row measuring the baseline checkout's code. */
export const BEFORE = ' (before)';

/** The baseline checkout's absolute path, or `undefined` when BENCH_BASELINE is not set. */
export function baselinePath(): string | undefined {
  const path = process.env[ENV];
  if (path === undefined || path === '') return undefined;
  const absolute = resolve(path);
  if (!existsSync(`${absolute}/packages/core/src/index.ts`)) {
    throw new Error(`${ENV}=${path} is not a checkout of this repository (no packages/core/src)`);
  }
  buildPackages(absolute);
  return absolute;
}

/** The row name of `name` measured on the baseline's code. */
export function before(name: string): string {
  return `${name}${BEFORE}`;
}

/** Whether the row measures the baseline's code. */
export function isBefore(name: string): boolean {
  return name.endsWith(BEFORE);
}

/** `names`, each followed by its "(before)" row when BENCH_BASELINE is set. */
export function withBefore(names: string[], ours: string[]): string[] {
  if (baselinePath() === undefined) return names;
  return names.flatMap((name) => (ours.includes(name) ? [name, before(name)] : [name]));
}

/**
 * Imports package `name` (`core`, `memory`, `multilevel`, `redis`, …) from the baseline
 * checkout's build. Type it with the current package's types: `importBaseline<typeof
 * import('@cache/core')>('core')`.
 */
export async function importBaseline<T>(name: string): Promise<T> {
  const root = baselinePath();
  if (root === undefined) throw new Error(`${ENV} is not set`);
  return (await import(pathToFileURL(`${root}/packages/${name}/dist/index.js`).href)) as T;
}

/** For a table's caption: which code the "(before)" rows run, or '' without a baseline. */
export function baselineCaption(): string {
  const root = baselinePath();
  if (root === undefined) return '';
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
  const dirty =
    git('status', '--porcelain', '--', 'packages') === '' ? '' : ', uncommitted changes';
  return `"(before)" rows: ${root} at ${git('rev-parse', '--short', 'HEAD')}${dirty} (BENCH_BASELINE)`;
}
