import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

test('the README example runs and prints why each bad key is bad', () => {
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const example = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  const source = pathToFileURL(join(packageDir, 'src/index.ts')).href;
  const dir = mkdtempSync(join(tmpdir(), 'cache-keys-readme-'));
  try {
    const file = join(dir, 'example.ts');
    writeFileSync(file, example.replace("from '@cache/keys'", `from '${source}'`));
    const output = execFileSync(
      process.execPath,
      ['--conditions=@cache/source', '--import', 'tsx', file],
      { cwd: packageDir, encoding: 'utf8' },
    );
    const printed = [...example.matchAll(/^\/\/ (\[cache\] .*)$/gm)].map((match) => match[1]);
    expect(printed).toHaveLength(3);
    expect(output.trim().split('\n')).toEqual(printed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
