// vitest globalSetup: gives the run a directory where processes.js records every process and
// temporary directory the tests start, and fails the run if any is still there at the end.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, RUN_DIR, release } from './processes.js';

/** Kills and deletes everything recorded in `runDir`, and the directory; returns what was left. */
function sweep(runDir) {
  const left = [];
  for (const name of readdirSync(runDir).filter((file) => file.endsWith('.json'))) {
    const entry = JSON.parse(readFileSync(join(runDir, name), 'utf8'));
    const pid = entry.group ? -entry.pid : entry.pid;
    if (entry.pid && alive(pid)) left.push(`process ${entry.pid}`);
    if (entry.dir && existsSync(entry.dir)) left.push(`directory ${entry.dir}`);
    release(entry);
  }
  rmSync(runDir, { recursive: true, force: true });
  return left;
}

/** Sets up the run's directory; returns the teardown that checks it. */
export default function setup() {
  const runDir = mkdtempSync(join(tmpdir(), 'cache-test-run-'));
  process.env[RUN_DIR] = runDir;
  // A cancelled run skips the teardown: clean up before the signal ends this process.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal) => {
    sweep(runDir);
    process.kill(process.pid, signal);
  };
  for (const signal of signals) process.once(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
    const left = sweep(runDir);
    if (left.length === 0) return;
    // vitest reports an error thrown here but still exits with 0: set the exit code too.
    process.exitCode = 1;
    throw new Error(`[cache] the tests left behind (now killed and deleted): ${left.join(', ')}`);
  };
}
