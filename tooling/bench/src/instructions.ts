// Machine instructions per operation of bench contenders, counted by valgrind rather than timed:
// the same count from run to run, whatever else the machine does (within about 10 instructions
// per operation). From the repository root, with valgrind installed (not needed by anything else):
//
//   pnpm --filter @cache-tooling/bench instructions memory:get "mnemonist LRUCache" "@cache/memory (ttl)"
//
// `<file>:<export>` names a table's setups as the bench's workers do (`memory:get`, `memory:hot`,
// `getOrSet:getOrSet`), then the rows to count. Each row runs in two fresh processes under
// `valgrind --tool=cachegrind`, one doing LOW operations and one HIGH, each in batches of BATCH as
// the timed harness calls them, after the row's own setup; the difference of the two totals over
// HIGH - LOW is the cost of one operation, setup, start-up and compilation cancelling out. Node
// runs with `--predictable` (one thread, so background GC and compilation are counted where they
// happen) and fixed seeds (string hashes, and so the probing of every hash table, repeat).
// INSTRUCTIONS_LOW and INSTRUCTIONS_HIGH change the counts (default 1M and 3M); far lower ones
// mislead, as V8 is still compiling (100k and 300k read mnemonist's hot get as 89, not 230).
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { factoryOf, type Run } from './harness.js';

const BATCH = 100_000;
const LOW = Number(process.env.INSTRUCTIONS_LOW ?? 1_000_000);
const HIGH = Number(process.env.INSTRUCTIONS_HIGH ?? 3_000_000);
const SELF = fileURLToPath(import.meta.url);
const NODE_FLAGS = ['--predictable', '--hash-seed=1', '--random-seed=1', '--import', 'tsx'];

const [suite = '', ...rest] = process.argv.slice(2);
if (process.env.INSTRUCTIONS_CHILD === '1') {
  await runOperations(suite, rest[0]!, Number(rest[1]));
} else {
  if (!suite.includes(':') || rest.length === 0) {
    throw new Error('usage: instructions.ts <file>:<export> <row name> [<row name>...]');
  }
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  console.log(`| ${suite} | instructions per operation |\n| --- | --- |`);
  for (const name of rest) {
    const low = count(suite, name, LOW);
    const high = count(suite, name, HIGH);
    console.log(`| ${name} | ${Math.round((high - low) / (HIGH - LOW))} |`);
  }
}

// The row's setup, then `operations` operations in batches, as the timed harness runs them.
async function runOperations(suite: string, name: string, operations: number): Promise<void> {
  const run = (await (await factoryOf(suite, name))()) as Run;
  for (let done = 0; done < operations; done += BATCH) await run(BATCH, done);
}

// The instructions valgrind counted for one child process doing `operations` operations.
function count(suite: string, name: string, operations: number): number {
  const child = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind',
      '--cache-sim=no',
      '--cachegrind-out-file=/dev/null',
      process.execPath,
      ...NODE_FLAGS,
      SELF,
      suite,
      name,
      String(operations),
    ],
    { env: { ...process.env, INSTRUCTIONS_CHILD: '1' }, encoding: 'utf8' },
  );
  const refs = /I\s+refs:\s+([\d,]+)/.exec(child.stderr);
  if (child.status !== 0 || refs === null) {
    throw new Error(`${name} under valgrind exited with ${child.status}:\n${child.stderr}`);
  }
  return Number(refs[1]!.replaceAll(',', ''));
}
