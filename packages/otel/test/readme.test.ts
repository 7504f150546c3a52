// The README's example, run as written in a child process.
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

test('the README example prints the cache metrics and exits by itself', async () => {
  const [example] = readmeExamples(`${packageDir}/README.md`);
  const output = await runExample(example!, { cwd: packageDir, timeout: 20_000 });
  expect(output).toContain("name: 'cache.operations'");
  expect(output).toContain("name: 'cache.load.duration'");
});
