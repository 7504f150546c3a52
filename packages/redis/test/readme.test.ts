// The README's complete programs, run as written in child processes against this file's
// redis-server; the other blocks are fragments of them.
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@cache/test-suite';
import { hasRedis } from '@cache-tooling/redis-server';
import { describe, expect, test } from 'vitest';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const [quickStart, cluster, fences, bus, events] = readmeExamples(`${packageDir}/README.md`);
  const redis = useRedis();

  function run(example: string | undefined): Promise<string> {
    return runExample(example!, {
      cwd: packageDir,
      env: { REDIS_URL: `redis://127.0.0.1:${redis.server.port}` },
      timeout: 10_000,
    });
  }

  describe("redis README's examples", () => {
    test('three are programs, two are fragments of them (a Cluster client, a bus)', () => {
      expect(cluster).toContain('new Cluster(');
      expect(bus).toContain('redisBus(');
    });

    test('the quick start prints the user and exits by itself', async () => {
      expect(await run(quickStart)).toBe("{ id: 42, name: 'Ada' }\n");
    });

    test('fences: a load that read before another process’s update does not store its old value', async () => {
      expect(await run(fences)).toBe('Ada\nAda L.\n');
    });

    test('redisEvents: the published events delete the keys, and the program exits by itself', async () => {
      expect(await run(events)).toBe('deleted *:123:*\nundefined undefined\n');
    });
  });
});
