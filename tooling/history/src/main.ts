// `pnpm --filter @cache-tooling/history long [--duration 10m] [--rounds 10] [--bound 50ms] [--workers 4]
// [--pg-pause 10s] [--kinds redis-kill,…] [--no-tags] [--keep] [--history <dir>]`:
// a history run under the nemesis, then the checker's table. Exits 1 on any violation.
import { parseArgs } from 'node:util';
import { parseDuration } from '@cache/core';
import { checkHistory } from './check/checkHistory.js';
import { resultTable } from './check/table.js';
import { type NemesisKind, readHistory } from './history.js';
import { checkOptions } from './options.js';
import { runHistory } from './run.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.HISTORY_DURATION ?? '10m' },
    bound: { type: 'string', default: process.env.HISTORY_BOUND ?? '50ms' },
    rounds: { type: 'string', default: process.env.HISTORY_ROUNDS ?? '10' },
    workers: { type: 'string', default: process.env.HISTORY_WORKERS ?? '4' },
    'pg-pause': { type: 'string', default: process.env.HISTORY_PG_PAUSE ?? '10s' },
    kinds: { type: 'string', default: process.env.HISTORY_KINDS },
    'no-tags': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    history: { type: 'string' },
  },
});

const started = Date.now();
// --history <dir>: check a kept history again (say, with another --bound) instead of running.
const run = values.history
  ? { entries: readHistory(values.history), dir: values.history, failures: [] }
  : await runHistory({
      duration: parseDuration(values.duration),
      rounds: Number(values.rounds),
      workers: Number(values.workers),
      pgPause: parseDuration(values['pg-pause']),
      keep: values.keep,
      tags: !values['no-tags'],
      ...(values.kinds && { kinds: values.kinds.split(',') as NemesisKind[] }),
      progress: (line) =>
        console.error(`[history] ${((Date.now() - started) / 1000).toFixed(0)} s: ${line}`),
    });
const result = checkHistory(run.entries, checkOptions(parseDuration(values.bound)));
console.log(resultTable(result));
for (const failure of run.failures) console.log(`\n- failure: ${failure}`);
if (result.violations.length > 0) {
  console.log(`\n${result.violations.length} violations (the first 20):\n`);
  for (const violation of result.violations.slice(0, 20)) {
    console.log(`- ${violation.rule}: ${violation.message}`);
    for (const entry of violation.entries) console.log(`    ${JSON.stringify(entry)}`);
  }
}
if (values.keep || values.history) console.log(`\nhistory: ${run.dir}`);
process.exitCode = result.violations.length > 0 || run.failures.length > 0 ? 1 : 0;
