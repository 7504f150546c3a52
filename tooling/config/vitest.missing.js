// vitest globalSetup: ends the run with one message listing everything the skipped tests needed
// and did not find (recorded by missing.js), and how to get it.
import { readMissing } from './missing.js';
import { RUN_DIR } from './processes.js';

/** Returns the teardown that prints the message. */
export default function setup() {
  const runDir = process.env[RUN_DIR];
  return () => {
    const missing = runDir ? readMissing(runDir) : [];
    if (missing.length === 0) return;
    console.warn(
      `\n[cache] Some tests were SKIPPED: they need what this machine lacks.\n${missing
        .map((howTo) => `  - ${howTo}`)
        .join('\n')}\n`,
    );
  };
}
