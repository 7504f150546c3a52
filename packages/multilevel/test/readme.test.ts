// The README's example, run as written in a child process against a redis-server of its own.
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { hasRedis, startRedis } from '@cache-tooling/redis-server';
import { describe, expect, test } from 'vitest';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));

  test('the README example prints the user and exits by itself once the cache is closed', async () => {
    const [example] = readmeExamples(`${packageDir}/README.md`);
    const server = await startRedis();
    try {
      const output = await runExample(example!, {
        cwd: packageDir,
        env: { REDIS_URL: `redis://127.0.0.1:${server.port}` },
        timeout: 10_000,
      });
      expect(output).toContain("{ id: 1, name: 'Ada' }");
    } finally {
      await server.stop();
    }
  });
});
