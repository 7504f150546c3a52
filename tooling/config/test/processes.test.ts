import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { expect, test } from 'vitest';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitFor(check: () => boolean, timeout = 15_000): Promise<void> {
  const end = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('what a process tracked is stopped and deleted after it is SIGKILLed (no exit handler runs)', async () => {
  const owner = spawn(
    process.execPath,
    [new URL('./fixtures/startsAndDies.js', import.meta.url).pathname],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const lines = createInterface({ input: owner.stdout })[Symbol.asyncIterator]();
    const { pid, dir } = JSON.parse((await lines.next()).value as string);
    expect(alive(pid)).toBe(true);
    expect(existsSync(dir)).toBe(true);
    owner.kill('SIGKILL');
    await waitFor(() => !alive(pid) && !existsSync(dir));
  } finally {
    owner.kill('SIGKILL');
  }
});
