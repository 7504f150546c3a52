// The HTTP cache test suite (npm http-cache-tests) against a reverse proxy on Express, Koa and
// Fastify with the default options: every required test recorded in baseline.json as passing
// must still pass on every adapter. `pnpm --filter @cache/http cache-tests` prints the table.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { loadGroups, passed, runSuite } from './conformance/suite.js';

const baseline = JSON.parse(
  readFileSync(new URL('conformance/baseline.json', import.meta.url), 'utf8'),
) as string[];

test('no required test of the HTTP cache test suite that passed before fails now, on any adapter', async () => {
  const groups = await loadGroups();
  const failing = async (): Promise<string[]> => {
    const results = await runSuite();
    return Object.entries(results).flatMap(([adapter, result]) =>
      baseline.filter((id) => !passed(groups, result, id)).map((id) => `${adapter}: ${id}`),
    );
  };
  let regressions = await failing();
  // The suite waits on real time (3 s pauses, Age in seconds): on a busy machine a test can miss
  // its moment, so a failure counts only when it happens twice.
  if (regressions.length > 0) {
    const again = new Set(await failing());
    regressions = regressions.filter((id) => again.has(id));
  }
  expect(regressions).toEqual([]);
}, 300_000);
