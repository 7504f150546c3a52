// Every process and temporary directory a test starts is tracked here, so that none outlives the
// test process however it ends, and a run can check that none outlived it (vitest.leftovers.js).
// A process that ends by a signal it cannot catch (SIGKILL, from a runner that aborts) runs no
// exit handler: a detached watchdog (watchdog.js), started with the first entry, stops what it
// left.
import { fork, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable naming the directory where a test run records what it started. */
export const RUN_DIR = 'CACHE_TEST_RUN_DIR';

const tracked = new Set();
let next = 0;
let hooked = false;
// Where this process lists what it tracks, for its watchdog.
const ownerDir = join(tmpdir(), `cache-owned-${process.pid}`);

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

/**
 * Whether process `pid` (a process group when negative) is still running.
 * @param {number} pid
 * @returns {boolean}
 */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function releaseAll() {
  for (const entry of tracked) release(entry);
  tracked.clear();
  rmSync(ownerDir, { recursive: true, force: true });
}

// Starts this process's watchdog, which outlives it and does what releaseAll would have done.
function startWatchdog() {
  mkdirSync(ownerDir, { recursive: true });
  const watchdog = spawn(
    process.execPath,
    [fileURLToPath(new URL('./watchdog.js', import.meta.url)), String(process.pid), ownerDir],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
}

function hook() {
  if (hooked) return;
  hooked = true;
  startWatchdog();
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
  const id = next++;
  const owned = join(ownerDir, `${id}.json`);
  mkdirSync(ownerDir, { recursive: true });
  writeFileSync(owned, JSON.stringify(entry));
  const runDir = process.env[RUN_DIR];
  const file = runDir && join(runDir, `${process.pid}-${id}.json`);
  if (file) {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(file, JSON.stringify(entry));
  }
  return () => {
    tracked.delete(entry);
    rmSync(owned, { force: true });
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
