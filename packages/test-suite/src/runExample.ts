import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Options of {@link runExample} and {@link startExample}. */
export interface RunExampleOptions {
  /** The folder the example runs in; its `node_modules` must resolve the example's imports. */
  cwd: string;
  /** Variables added to the environment, such as `REDIS_URL`. */
  env?: Record<string, string>;
  /**
   * How long the example may run before it counts as hung and is killed ({@link runExample} only).
   * @default 10_000
   */
  timeout?: number;
}

/** An example that keeps running, such as a server; see {@link startExample}. */
export interface RunningExample {
  /** What it printed so far: its stdout, then its stderr. */
  output(): string;
  /** Stops it (SIGTERM) if it still runs, and resolves once it has exited. */
  stop(): Promise<void>;
}

/** The ` ```ts ` blocks of a README, in order. */
export function readmeExamples(readmePath: string): string[] {
  const readme = readFileSync(readmePath, 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/**
 * Runs `code` as written, as a module in a child `node` (TypeScript through tsx, workspace
 * packages from their sources), and resolves what it printed once it has exited by itself.
 * Rejects when it exits with an error, or when it is still running after `timeout` ms: an
 * example that leaves a connection or a timer open never ends for its user either.
 */
export function runExample(code: string, options: RunExampleOptions): Promise<string> {
  const { timeout = 10_000 } = options;
  const { child, stdout, output } = spawnExample(code, options);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the example did not exit within ${timeout} ms; it printed:\n${output()}`));
    }, timeout);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (status === 0) resolve(stdout());
      else reject(new Error(`the example exited with ${status ?? signal}:\n${output()}`));
    });
  });
}

/**
 * Starts `code` as {@link runExample} does, for an example that runs until it is stopped (a
 * server): drive it from the test, then `stop()` it.
 */
export function startExample(code: string, options: RunExampleOptions): RunningExample {
  const { child, output } = spawnExample(code, options);
  const closed = once(child, 'close');
  return {
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}

// Writes the example inside cwd, so that its imports resolve from there, and deletes it once the
// child has exited.
function spawnExample(
  code: string,
  { cwd, env }: RunExampleOptions,
): { child: ChildProcessWithoutNullStreams; stdout: () => string; output: () => string } {
  const file = join(cwd, `.example-${process.pid}-${Date.now()}.ts`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', file], {
    cwd,
    env: { ...process.env, ...env },
  });
  child.on('close', () => rmSync(file, { force: true }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return { child, stdout: () => stdout, output: () => stdout + stderr };
}
