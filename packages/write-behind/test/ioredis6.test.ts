import { redisStreamQueue } from '@cache/write-behind/redis';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis-6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Client = Parameters<typeof redisStreamQueue>[0]['client'];

describe.skipIf(!hasRedis())('redisStreamQueue with ioredis 6 clients', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  let streams = 0;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  // The package's types come from the ioredis 5 it is built against; a user with ioredis 6 gets
  // its types instead. Here both are installed, so a 6 client is passed as the 5 type.
  function client(options: { protocol?: 3; replyMapping?: 'resp3' }): Client {
    const created = new Redis(server.port, options);
    clients.push(created);
    return created as unknown as Client;
  }

  describe.each([
    ['default replies', {}],
    ["replyMapping: 'resp3'", { protocol: 3, replyMapping: 'resp3' }],
  ] as const)('%s', (_, options) => {
    it('takes pushed writes, takes its own unacknowledged ones back first, and claims a dead consumer’s', async () => {
      const stream = `writes:${++streams}`;
      const dying = redisStreamQueue({ client: client(options), stream, consumer: 'dying' });
      await dying.push('a', 1);
      expect(await dying.take(10)).toMatchObject([{ key: 'a', value: 1 }]);

      const restarted = redisStreamQueue({ client: client(options), stream, consumer: 'dying' });
      await restarted.push('b', { n: 2 });
      const own = await restarted.take(10);
      expect(own).toMatchObject([{ key: 'a', value: 1 }]);
      await restarted.ack(own);
      expect(await restarted.take(10)).toMatchObject([{ key: 'b', value: { n: 2 } }]);

      const survivor = redisStreamQueue({
        client: client(options),
        stream,
        consumer: 'survivor',
        claimIdle: 0,
      });
      const claimed = await survivor.take(10);
      expect(claimed).toMatchObject([{ key: 'b', value: { n: 2 } }]);
      await survivor.ack(claimed);
      expect(await survivor.take(10)).toEqual([]);
    });
  });
});
