// One command: the HTTP cache test suite against a proxy on each adapter, printed as a table of
// required/optional passes by group. `--write-baseline` records the required tests passed on every
// adapter in baseline.json, which the CI test holds the code to; `--failures` lists the required
// tests that fail, with the suite's reason.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadGroups, passed, requiredIds, runSuite, table } from './suite.js';

const groups = await loadGroups();
const results = await runSuite();
console.log(table(groups, results));
if (process.argv.includes('--failures')) {
  for (const [adapter, result] of Object.entries(results)) {
    for (const id of requiredIds(groups)) {
      if (passed(groups, result, id)) continue;
      const reason = result[id] === true ? 'a test it depends on failed' : result[id]?.[1];
      console.log(`${adapter}: ${id}: ${reason ?? 'not run'}`);
    }
  }
}
if (process.argv.includes('--write-baseline')) {
  const ids = requiredIds(groups).filter((id) =>
    Object.values(results).every((result) => passed(groups, result, id)),
  );
  const file = fileURLToPath(new URL('baseline.json', import.meta.url));
  writeFileSync(file, `${JSON.stringify(ids, null, 2)}\n`);
  console.log(`\n${ids.length} required tests passed on every adapter: written to ${file}`);
}
