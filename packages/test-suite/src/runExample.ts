import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Options of {@link runExample}. */
export interface RunExampleOptions {
  /** The folder the example runs in; its `node_modules` must resolve the example's imports. */
  cwd: string;
  /** Variables added to the environment, such as `REDIS_URL`. */
  env?: Record<string, string>;
  /**
   * How long the example may run before it counts as hung and is killed.
   * @default 10_000
   */
  timeout?: number;
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
  const { cwd, env, timeout = 10_000 } = options;
  // Inside cwd, so that the example's imports resolve from there.
  const file = join(cwd, `.example-${process.pid}-${Date.now()}.ts`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, ['--conditions=@cache/source', '--import', 'tsx', file], {
    cwd,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`the example did not exit within ${timeout} ms; it printed:\n${stdout}${stderr}`),
      );
    }, timeout);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (status === 0) resolve(stdout);
      else reject(new Error(`the example exited with ${status ?? signal}:\n${stdout}${stderr}`));
    });
  }).finally(() => rmSync(file, { force: true }));
}
