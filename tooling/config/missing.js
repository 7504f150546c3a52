// What the tests of a run skipped for lack of, so that the run ends with one message listing it
// all (vitest.missing.js) instead of failing on the first missing binary.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_DIR } from './processes.js';

const folder = (runDir) => join(runDir, 'missing');

/**
 * Records that `piece` (a binary, a server) is missing on this machine, and how to get it, for the
 * message at the end of the test run.
 * @param {string} piece
 * @param {string} howToGetIt
 */
export function reportMissing(piece, howToGetIt) {
  const runDir = process.env[RUN_DIR];
  if (!runDir) return;
  mkdirSync(folder(runDir), { recursive: true });
  writeFileSync(join(folder(runDir), encodeURIComponent(piece)), howToGetIt);
}

/**
 * Every missing piece recorded in `runDir`, with how to get it.
 * @param {string} runDir
 * @returns {string[]}
 */
export function readMissing(runDir) {
  try {
    return readdirSync(folder(runDir)).map((name) =>
      readFileSync(join(folder(runDir), name), 'utf8'),
    );
  } catch {
    return [];
  }
}
