// The README's first example, a complete program, run as written in a child process against a
// PostgreSQL of its own; the other blocks are variations of it.
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { describe, expect, test } from 'vitest';
import { haveServers, readTable, useServers } from './support.js';

describe.skipIf(!haveServers)('with real PostgreSQL and Redis servers', () => {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const servers = useServers();

  test('the README example writes the last value of user:1 to the database and exits by itself', async () => {
    const [example] = readmeExamples(`${packageDir}/README.md`);
    const output = await runExample(example!, {
      cwd: packageDir,
      env: { DATABASE_URL: servers.postgres.url },
      timeout: 8_000,
    });
    expect(output).toContain("{ name: 'Ada', visits: 2 }");
    expect(output).toMatch(/queued: 2,\s+flushed: 1,\s+coalesced: 1,\s+batches: 1/);
    expect(await readTable(servers.pool, 'users')).toEqual(
      new Map([['user:1', { name: 'Ada', visits: 2 }]]),
    );
  });
});
