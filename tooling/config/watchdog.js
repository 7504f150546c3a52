// The watchdog of one process that started servers (see processes.js): a detached process that
// outlives it, waits for it to die, however it dies (SIGKILL included), and then stops and
// deletes what it left tracked in its directory.
// Usage: node watchdog.js <owner pid> <owner directory>
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { alive, release } from './processes.js';

const [owner, ownerDir] = [Number(process.argv[2]), process.argv[3]];

function sweep() {
  let names = [];
  try {
    names = readdirSync(ownerDir).filter((name) => name.endsWith('.json'));
  } catch {
    // The owner removed its directory on its way out: nothing is left.
  }
  for (const name of names) {
    try {
      release(JSON.parse(readFileSync(join(ownerDir, name), 'utf8')));
    } catch {
      // Half written when the owner died: it tracked nothing yet.
    }
  }
  rmSync(ownerDir, { recursive: true, force: true });
}

const timer = setInterval(() => {
  if (alive(owner)) return;
  clearInterval(timer);
  sweep();
}, 250);
