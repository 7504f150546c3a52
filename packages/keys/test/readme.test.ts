import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

test('the README example runs, prints why each bad key is bad and exits by itself', async () => {
  const [example] = readmeExamples(`${packageDir}/README.md`);
  const output = await runExample(example!, { cwd: packageDir, timeout: 10_000 });
  const printed = [...example!.matchAll(/^\/\/ (\[cache\] .*)$/gm)].map((match) => match[1]);
  expect(printed).toHaveLength(3);
  expect(output.trim().split('\n')).toEqual(printed);
});
