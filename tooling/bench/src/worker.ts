// One contender in its own process, driven by the harness over IPC: `worker.ts <file:export> <name>
// run` builds `setups[name]` and answers each { ms, batch } with the ops/s of a timed run;
// `... probe` answers once with the number `probes[name]` returns. A run's `report()`, if any, is
// called after each timed run and its answer sent along with the rate.
import { factoryOf, type Run, timed } from './harness.js';

const [suite = '', name = '', mode = 'run'] = process.argv.slice(2);
const factory = await factoryOf(suite, name);
const gc = (globalThis as { gc?: () => void }).gc;
const send = (message: object) => process.send!(message);

let run: Run | undefined;
if (mode === 'run') run = (await factory()) as Run;
let position = 0;
process.on('message', async ({ ms, batch }: { ms: number; batch: number }) => {
  try {
    if (run === undefined) {
      send({ value: await factory() });
      return;
    }
    gc?.();
    const rate = await timed(run, ms, batch, position);
    position += Math.ceil((rate * ms) / 1000);
    send({ value: rate, extra: await run.report?.() });
  } catch (error) {
    send({ error: String((error as Error)?.stack ?? error) });
  }
});
send({ ready: true });
