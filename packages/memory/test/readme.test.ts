// The complete programs of this package's README and of @cache/core's (core cannot depend on
// @cache/memory), run as written in child processes; each must exit by itself.
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { describe, expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const coreReadme = fileURLToPath(new URL('../../core/README.md', import.meta.url));
// Only the complete programs: the blocks that create their own cache or store.
const programs = (readme: string) =>
  readmeExamples(readme).filter((code) => code.includes("from '@cache/memory'"));
const core = programs(coreReadme);
const memory = programs(`${packageDir}/README.md`);

function run(code: string | undefined): Promise<string> {
  return runExample(code!, { cwd: packageDir, timeout: 10_000 });
}

describe("core README's examples", () => {
  test('there are nine programs: the quick start, TTL with jitter, event-driven, versions, soft invalidation, batched cached(), freshness, batch loads, observing', () => {
    expect(core).toHaveLength(9);
  });

  test('soft invalidation: no hit, the fallback of a failing loader, a reload; hard has no fallback', async () => {
    expect(await run(core[4])).toBe('undefined\ntrue\nAda\nGrace H.\nLoaderError\n');
  });

  test('batched cached(): one query for the calls of one tick', async () => {
    expect(await run(core[5])).toBe('one query for [ 1, 2, 3 ]\n[ 1, 2, 3, 2 ]\n');
  });

  test('the quick start loads user 1 once for 1,000 callers and prints users 2 and 3', async () => {
    const output = await run(core[0]);
    expect(output).toMatch(/^\{ id: 2, name: 'user 2' \}\n\{ id: 3, name: 'user 3' \} 1000 \{/);
    expect(output).toMatch(/loads: 2,/); // one for the 1,000 callers of user 1, one for user 3
  });

  test('TTL with jitter runs', async () => {
    expect(await run(core[1])).toBe('');
  });

  test('event-driven: user.deleted deletes *:{user_id}:*', async () => {
    expect(await run(core[2])).toBe('deleted *:123:*\n');
  });

  test('versions: a read for another version misses; a versioned namespace is invalidated', async () => {
    expect(await run(core[3])).toBe("{ name: 'Ada' }\nundefined\nundefined { name: 'Ada L.' }\n");
  });

  test('freshness: a hit past the threshold answers at once and is refreshed; forceFresh falls back', async () => {
    expect(await run(core[6])).toBe('1\n1\n2\n2\n2 false true\n');
  });
  test('batch loads: one loader call for the missing keys, an error for the unknown one', async () => {
    expect(await run(core[7])).toBe(
      "loading [ '2', '3' ]\nAda\nGrace\n[cache] loader failed for key \"3\": no user 3\n",
    );
  });
  test('observing: a diagnostics channel subscriber sees each lookup; stats() gives the hit ratio', async () => {
    expect(await run(core[8])).toBe('getOrSet miss user:1\ngetOrSet hit user:1\n0.5 1\n');
  });
});

describe("memory README's examples", () => {
  test('there are four programs (the third block is a fragment of options)', () => {
    expect(memory).toHaveLength(4);
  });

  test('the quick start prints the name', async () => {
    expect(await run(memory[0])).toBe('Ada\n');
  });

  test('LRU: the least recently used key is evicted', async () => {
    expect(await run(memory[1])).toBe('undefined\n1\n3\n');
  });

  test('maxEntrySize: the 6 MB value is refused and the 1 MB one stays', async () => {
    expect(await run(memory[2])).toBe('StoreError\nundefined 1\n');
  });

  test("policy: 'tinylfu': hot keys read among a scan keep hitting, unlike under 'lru'", async () => {
    expect(await run(memory[3])).toBe(
      'lru 0% of the hot reads hit\ntinylfu 99% of the hot reads hit\n',
    );
  });
});
