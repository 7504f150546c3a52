// The runnable examples of the "Invalidation" section of @cache/core's README, run as written.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const readme = readFileSync(
  fileURLToPath(new URL('../../core/README.md', import.meta.url)),
  'utf8',
);
const section = readme.slice(
  readme.indexOf('## Invalidation'),
  readme.indexOf('\n## ', readme.indexOf('## Invalidation') + 1),
);
// Only the complete programs: the blocks that create their own cache.
const examples = [...section.matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((match) => match[1]!)
  .filter((code) => code.includes("from '@cache/memory'"));
// Inside this package, so that @cache/core and @cache/memory resolve.
const dir = mkdtempSync(fileURLToPath(new URL('../.readme-', import.meta.url)));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runExample(heading: string): Promise<string> {
  const code = examples.find((example) => section.indexOf(example) > section.indexOf(heading));
  if (code === undefined) throw new Error(`no example under ${heading}`);
  const file = join(dir, `${heading.replace(/\W+/g, '-')}.ts`);
  writeFileSync(file, code);
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--conditions=@cache/source', file],
    { cwd: dir },
  );
  return stdout;
}

describe("core README's invalidation examples", () => {
  test('there are three: TTL with jitter, event-driven, versions', () => {
    expect(examples).toHaveLength(3);
  });

  test('TTL with jitter runs', async () => {
    expect(await runExample('### TTL, with jitter')).toBe('');
  });

  test('event-driven: user.deleted deletes *:{user_id}:*', async () => {
    expect(await runExample('### Event-driven')).toBe('deleted *:123:*\n');
  });

  test('versions: a read for another version misses; a versioned namespace is invalidated', async () => {
    expect(await runExample('### Versions and versioned namespaces')).toBe(
      "{ name: 'Ada' }\nundefined\nundefined { name: 'Ada L.' }\n",
    );
  });
});
