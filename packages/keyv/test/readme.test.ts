// The README's two programs, run as written in child processes against this file's redis-server.
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { hasRedis } from '@cache-tooling/redis-server';
import { describe, expect, test } from 'vitest';
import { redisOfFile } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const [tier, underKeyv] = readmeExamples(`${packageDir}/README.md`);
  const redis = redisOfFile();

  function run(example: string | undefined): Promise<string> {
    return runExample(example!, {
      cwd: packageDir,
      env: { REDIS_URL: `redis://127.0.0.1:${redis.server().port}` },
      // Generous: the whole suite runs beside it on CI (the history checker's workers too), and
      // a child that starts tsx and connects to Redis can take seconds there.
      timeout: 30_000,
    });
  }

  describe("keyv README's examples", () => {
    test('a Keyv store as a tier: prints the user and exits by itself', async () => {
      expect(await run(tier)).toMatch(/^\{ id: 1, joined: \d{4}-\d\d-\d\dT[\d:.]+Z \}\n$/);
    }, 40_000);

    test('an @cache store under cache-manager: prints both users and exits by itself', async () => {
      expect(await run(underKeyv)).toBe("{ name: 'Grace' } { name: 'Ada' }\n");
    }, 40_000);
  });
});
