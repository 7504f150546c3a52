// Runs the HTTP cache test suite (http-cache-tests, the suite behind cache-tests.fyi) against a
// reverse proxy built on each adapter, and reads its results by group and kind.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ADAPTERS, type Adapter, startProxy } from './proxy.js';

const require = createRequire(import.meta.url);
// The npm release, or a checkout of the suite's repository (its current version) named by
// HTTP_CACHE_TESTS_DIR.
const root =
  process.env.HTTP_CACHE_TESTS_DIR ?? dirname(require.resolve('http-cache-tests/package.json'));
const engine = existsSync(join(root, 'test-engine')) ? 'test-engine/' : '';
const here = dirname(fileURLToPath(import.meta.url));

/** One test of the suite. */
interface SuiteTest {
  id: string;
  kind?: 'required' | 'optimal' | 'check';
  browser_only?: boolean;
  depends_on?: string[];
}

/** A group of tests (`Cache-Control Freshness`, `Vary`, …). */
interface SuiteGroup {
  name: string;
  id: string;
  tests: SuiteTest[];
}

/** The raw results of one run: `true` or `[error name, message]` per test id. */
export type Results = Record<string, true | [string, string]>;

/** Passed and run counts of one group on one adapter. */
export interface GroupScore {
  group: string;
  required: [passed: number, total: number];
  optional: [passed: number, total: number];
}

/** The suite's groups, as its version ships them. */
export async function loadGroups(): Promise<SuiteGroup[]> {
  const module = await import(pathToFileURL(join(root, 'tests/index.mjs')).href);
  return module.default as SuiteGroup[];
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

// Starts the suite's own origin server and resolves once it answers.
async function startOrigin(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, `${engine}server/server.mjs`)], {
    env: {
      ...process.env,
      npm_config_protocol: 'http',
      npm_config_port: String(port),
      npm_config_pidfile: join(tmpdir(), `http-cache-tests-origin-${process.pid}.pid`),
    },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; tries < 200; tries++) {
    try {
      await fetch(`${url}/state/none`);
      return { url, process: child };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill();
  throw new Error(`[cache] [http] the suite's origin server never answered on ${url}`);
}

// Runs the suite's client in a child process against one proxy.
function runClient(base: string): Promise<Results> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(here, 'runSuite.mjs'), base],
      { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(JSON.parse(stdout) as Results);
      },
    );
  });
}

/** Runs the whole suite against a proxy on each adapter, all at once; resolves with the results. */
export async function runSuite(
  adapters: readonly Adapter[] = ADAPTERS,
): Promise<Record<Adapter, Results>> {
  const origin = await startOrigin();
  const proxies = await Promise.all(adapters.map((adapter) => startProxy(adapter, origin.url)));
  try {
    const results = await Promise.all(proxies.map((proxy) => runClient(proxy.url)));
    return Object.fromEntries(adapters.map((adapter, i) => [adapter, results[i]])) as Record<
      Adapter,
      Results
    >;
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    origin.process.kill();
  }
}

/**
 * Whether a test passed, as cache-tests.fyi counts it: `true`, and every test it depends on
 * passed too (a failed dependency makes it unreliable, so it does not count).
 */
export function passed(groups: SuiteGroup[], results: Results, id: string): boolean {
  if (results[id] !== true) return false;
  const test = groups.flatMap((group) => group.tests).find((t) => t.id === id);
  return (test?.depends_on ?? []).every((dependency) => passed(groups, results, dependency));
}

/** The required (MUST-level) test ids of the suite, browsers' own tests left out. */
export function requiredIds(groups: SuiteGroup[]): string[] {
  return groups.flatMap((group) =>
    group.tests
      .filter((test) => !test.browser_only && (test.kind ?? 'required') === 'required')
      .map((test) => test.id),
  );
}

/** Required and optional passes by group. */
export function score(groups: SuiteGroup[], results: Results): GroupScore[] {
  return groups.map((group) => {
    const count = (kind: 'required' | 'optimal'): [number, number] => {
      const tests = group.tests.filter(
        (test) => !test.browser_only && (test.kind ?? 'required') === kind,
      );
      return [tests.filter((test) => passed(groups, results, test.id)).length, tests.length];
    };
    return { group: group.name, required: count('required'), optional: count('optimal') };
  });
}

/** A markdown table of required/optional passes by group, one column per adapter. */
export function table(groups: SuiteGroup[], all: Partial<Record<Adapter, Results>>): string {
  const adapters = Object.keys(all) as Adapter[];
  const scores = adapters.map((adapter) => score(groups, all[adapter]!));
  const cell = ([done, total]: [number, number]) => `${done}/${total}`;
  const lines = [
    `| group | ${adapters.map((a) => `${a} required | ${a} optional`).join(' | ')} |`,
    `| --- | ${adapters.map(() => '---: | ---:').join(' | ')} |`,
  ];
  groups.forEach((group, g) => {
    const cells = scores.map((s) => `${cell(s[g]!.required)} | ${cell(s[g]!.optional)}`);
    lines.push(`| ${group.name} | ${cells.join(' | ')} |`);
  });
  const total = (s: GroupScore[], kind: 'required' | 'optional'): [number, number] =>
    s.reduce<[number, number]>((sum, x) => [sum[0] + x[kind][0], sum[1] + x[kind][1]], [0, 0]);
  const totals = scores.map(
    (s) => `**${cell(total(s, 'required'))}** | ${cell(total(s, 'optional'))}`,
  );
  lines.push(`| **all** | ${totals.join(' | ')} |`);
  return lines.join('\n');
}
