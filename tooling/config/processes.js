// Every process and temporary directory a test starts is tracked here, so that none outlives the
// test process however it ends, and a run can check that none outlived it (vitest.leftovers.js).
import { fork } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable naming the directory where a test run records what it started. */
export const RUN_DIR = 'CACHE_TEST_RUN_DIR';

const tracked = new Set();
let next = 0;
let hooked = false;

/**
 * Kills a tracked process (its whole process group if `group`) and deletes a tracked directory.
 * @param {import('./processes.js').Tracked} entry
 */
export function release({ pid, group, signal, dir }) {
  if (pid) {
    try {
      process.kill(group ? -pid : pid, signal ?? 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

function releaseAll() {
  for (const entry of tracked) release(entry);
  tracked.clear();
}

function hook() {
  if (hooked) return;
  hooked = true;
  process.once('exit', releaseAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      releaseAll();
      // Let the signal do what it would have done without this listener.
      process.kill(process.pid, signal);
    });
  }
}

/**
 * Records a process and/or a temporary directory a test started: on exit or SIGINT, SIGTERM or
 * SIGHUP of this process it is killed and deleted, and during a vitest run it is also written to
 * the run's directory ({@link RUN_DIR}) until the returned function forgets it.
 * @param {import('./processes.js').Tracked} entry
 * @returns {() => void}
 */
export function track(entry) {
  hook();
  tracked.add(entry);
  const runDir = process.env[RUN_DIR];
  const file = runDir && join(runDir, `${process.pid}-${next++}.json`);
  if (file) {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(file, JSON.stringify(entry));
  }
  return () => {
    tracked.delete(entry);
    if (file) rmSync(file, { force: true });
  };
}

/**
 * Tracks a child process (see {@link track}) until it exits.
 * @template {import('node:child_process').ChildProcess} T
 * @param {T} child
 * @returns {T}
 */
export function trackChild(child) {
  if (child.pid === undefined) return child;
  const forget = track({ pid: child.pid });
  child.once('exit', forget);
  return child;
}

/**
 * Forks a TypeScript test fixture (run through tsx, reading workspace packages from source) with
 * an IPC channel and the test's stdout and stderr, and tracks it until it exits.
 * @param {URL | string} file
 * @param {string[]} [args]
 * @returns {import('node:child_process').ChildProcess}
 */
export function forkFixture(file, args = []) {
  const child = fork(file instanceof URL ? fileURLToPath(file) : file, args, {
    execArgv: ['--import', 'tsx', '--conditions=@cache/source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return trackChild(child);
}
