import { hasRedis, startRedis } from '@cache-tooling/redis-server';
import { afterEach, describe, expect, test } from 'vitest';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const saved = { PATH: process.env.PATH, REDIS_SERVER_BIN: process.env.REDIS_SERVER_BIN };

  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.REDIS_SERVER_BIN === undefined) delete process.env.REDIS_SERVER_BIN;
    else process.env.REDIS_SERVER_BIN = saved.REDIS_SERVER_BIN;
  });

  describe('the redis-server test helper', () => {
    test('says how to install Redis when redis-server is not on the PATH', async () => {
      process.env.PATH = '/nonexistent';
      delete process.env.REDIS_SERVER_BIN;
      await expect(startRedis()).rejects.toThrow(/apt-get install redis-server.*REDIS_SERVER_BIN/s);
    });

    test('names a REDIS_SERVER_BIN that is not an executable', async () => {
      process.env.REDIS_SERVER_BIN = '/nonexistent/redis-server';
      await expect(startRedis()).rejects.toThrow('REDIS_SERVER_BIN=/nonexistent/redis-server');
    });

    test('a killed server restarts on the same port', async () => {
      const server = await startRedis();
      try {
        const { port } = server;
        await server.kill();
        expect(server.running).toBe(false);
        await server.restart();
        expect(server.running).toBe(true);
        expect(server.port).toBe(port);
      } finally {
        await server.stop();
      }
    });
  });
});
