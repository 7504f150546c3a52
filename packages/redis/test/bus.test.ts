import { startTcpProxy } from '@cache-tooling/postgres-server';
import { hasRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { type BusMessage, type RedisBus, redisBus } from '../src/index.js';
import { expectResubscribedAfterRestart } from './busRestart.js';
import { useRedis } from './redis.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  const redis = useRedis();

  function nextMessage(bus: RedisBus): Promise<BusMessage> {
    return new Promise((resolve) => {
      const pending = bus.subscribe((message) => {
        void pending.then((off) => off());
        resolve(message);
      });
    });
  }

  // b, which heard 'live' from a, misses 'missed' while cut off: it replays just that one.
  async function replaysTheOneMissed(
    a: RedisBus,
    b: RedisBus,
    proxy: { disconnect(): Promise<void>; restore(): Promise<void> },
    received: BusMessage[],
  ): Promise<void> {
    const resumed = new Promise<number>((resolve) => b.on('resume', resolve));
    await proxy.disconnect();
    await a.publish({ type: 'delete', keys: ['missed'] });
    await proxy.restore();
    expect(await resumed).toBe(1);
    expect(received.map(({ keys }) => keys)).toEqual([['live'], ['missed']]);
  }

  describe('redisBus', () => {
    test('a message published by one instance reaches the others, not itself', async () => {
      const a = redisBus({ port: redis.server.port, channel: 'inv' });
      const b = redisBus({ port: redis.server.port, channel: 'inv' });
      try {
        const ownMessages: BusMessage[] = [];
        await a.subscribe((message) => ownMessages.push(message));
        const received: BusMessage[] = [];
        const twoReceived = new Promise<void>((resolve) => {
          void b.subscribe((message) => {
            received.push(message);
            if (received.length === 2) resolve();
          });
        });
        // Wait until b's subscriber is in place: its subscribe() resolves once subscribed.
        await b.subscribe(() => {});
        await a.publish({ type: 'delete', keys: ['user:1', 'user:2'] });
        await a.publish({ type: 'tags', tags: ['users'] });
        await twoReceived;
        expect(received).toEqual([
          {
            type: 'delete',
            keys: ['user:1', 'user:2'],
            origin: a.instanceId,
            sentAt: expect.any(Number),
          },
          { type: 'tags', tags: ['users'], origin: a.instanceId, sentAt: expect.any(Number) },
        ]);
        // b's messages are published after a's, so a has had every chance to see its own.
        const back = nextMessage(a);
        await b.publish({ type: 'clear', prefix: 'users:' });
        expect(await back).toEqual({
          type: 'clear',
          prefix: 'users:',
          origin: b.instanceId,
          sentAt: expect.any(Number),
        });
        expect(ownMessages.filter((message) => message.origin === a.instanceId)).toEqual([]);
        expect(a.stats()).toMatchObject({ published: 2, received: 1 });
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a pattern message reaches the other instances as sent', async () => {
      const a = redisBus({ port: redis.server.port, channel: 'inv5' });
      const b = redisBus({ port: redis.server.port, channel: 'inv5' });
      try {
        await b.subscribe(() => {});
        const received = nextMessage(b);
        await a.publish({ type: 'pattern', pattern: '*:123:*' });
        expect(await received).toEqual({
          type: 'pattern',
          pattern: '*:123:*',
          origin: a.instanceId,
          sentAt: expect.any(Number),
        });
        expect(b.stats().invalid).toBe(0);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a closed bus refuses new subscriptions', async () => {
      const bus = redisBus({ port: redis.server.port, channel: 'inv4' });
      await bus.close();
      await expect(bus.subscribe(() => {})).rejects.toMatchObject({ code: 'E_STORE_CLOSED' });
    });

    test('an invalid message is counted and reported, not passed on', async () => {
      const bus = redisBus({ port: redis.server.port, channel: 'inv2' });
      const raw = new Redis(redis.server.port);
      try {
        await bus.subscribe(() => {
          throw new Error('must not be called');
        });
        const reported = new Promise<Error>((resolve) => bus.on('error', resolve));
        await raw.publish('inv2', 'not json');
        expect((await reported).message).toContain('invalid bus message');
        expect(bus.stats().invalid).toBe(1);
      } finally {
        raw.disconnect();
        await bus.close();
      }
    });

    test('a subscriber cut off replays from the log what was published meanwhile, in order, and does not distrust', async () => {
      const proxy = await startTcpProxy({ port: redis.server.port });
      const a = redisBus({ port: redis.server.port, channel: 'replay' });
      const b = redisBus({ port: proxy.port, channel: 'replay' });
      try {
        const received: BusMessage[] = [];
        await b.subscribe((message) => received.push(message));
        let distrusted = false;
        b.on('reconnect', () => {
          distrusted = true;
        });
        const resumed = new Promise<number>((resolve) => b.on('resume', resolve));
        await a.publish({ type: 'delete', keys: ['before'] });
        await expect.poll(() => received.length).toBe(1);
        await proxy.disconnect();
        await a.publish({ type: 'delete', keys: ['k1'] });
        await a.publish({ type: 'tags', tags: ['users'] });
        await a.publish({ type: 'delete', keys: ['k2'] });
        await proxy.restore();
        expect(await resumed).toBe(3);
        expect(received.map(({ keys, tags }) => keys ?? tags)).toEqual([
          ['before'],
          ['k1'],
          ['users'],
          ['k2'],
        ]);
        expect(distrusted).toBe(false);
        expect(b.stats()).toMatchObject({ reconnects: 1, replayed: 3, gaps: 0 });
        // And it goes on receiving live.
        await a.publish({ type: 'delete', keys: ['after'] });
        await expect.poll(() => received.at(-1)?.keys).toEqual(['after']);
      } finally {
        await a.close();
        await b.close();
        await proxy.close();
      }
    });

    test('a subscriber cut off while messages keep coming misses none of them', async () => {
      const proxy = await startTcpProxy({ port: redis.server.port });
      const a = redisBus({ port: redis.server.port, channel: 'flow' });
      const b = redisBus({ port: proxy.port, channel: 'flow' });
      let publishing = true;
      try {
        const received = new Set<string>();
        await b.subscribe((message) => {
          for (const key of message.keys ?? []) received.add(key);
        });
        let distrusted = false;
        b.on('reconnect', () => {
          distrusted = true;
        });
        const back = new Promise<void>((resolve) => {
          b.on('resume', () => resolve());
          b.on('reconnect', () => resolve());
        });
        const sent: string[] = [];
        const flow = (async () => {
          for (let i = 0; publishing; i++) {
            await a.publish({ type: 'delete', keys: [`k${i}`] });
            sent.push(`k${i}`);
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
        })();
        await expect.poll(() => received.size).toBeGreaterThan(5);
        await proxy.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 100));
        await proxy.restore();
        await back;
        expect(distrusted).toBe(false);
        await new Promise((resolve) => setTimeout(resolve, 100));
        publishing = false;
        await flow;
        await expect.poll(() => sent.filter((key) => !received.has(key))).toEqual([]);
        expect(distrusted).toBe(false);
      } finally {
        publishing = false;
        await a.close();
        await b.close();
        await proxy.close();
      }
    });

    test('a message published by this version is read by a subscriber that knows nothing of logs', async () => {
      const a = redisBus({ port: redis.server.port, channel: 'plain' });
      const raw = new Redis(redis.server.port);
      try {
        const texts: string[] = [];
        await raw.subscribe('plain');
        raw.on('message', (_channel, text: string) => texts.push(text));
        await a.publish({ type: 'delete', keys: ['k'] });
        await expect.poll(() => texts.length).toBe(1);
        expect(JSON.parse(texts[0]!)).toMatchObject({
          type: 'delete',
          keys: ['k'],
          origin: a.instanceId,
        });
      } finally {
        raw.disconnect();
        await a.close();
      }
    });

    test('a subscriber away for longer than the log keeps distrusts instead of replaying', async () => {
      const proxy = await startTcpProxy({ port: redis.server.port });
      // Redis trims a stream by whole nodes of 100 entries: 300 messages leave none of the first.
      const a = redisBus({ port: redis.server.port, channel: 'trimmed', logLength: 1 });
      const b = redisBus({ port: proxy.port, channel: 'trimmed', logLength: 1 });
      try {
        const received: BusMessage[] = [];
        await b.subscribe((message) => received.push(message));
        const distrusted = new Promise<void>((resolve) => b.on('reconnect', resolve));
        await proxy.disconnect();
        for (let i = 0; i < 300; i++) await a.publish({ type: 'delete', keys: [`k${i}`] });
        await proxy.restore();
        await distrusted;
        expect(received).toEqual([]);
        expect(b.stats()).toMatchObject({ reconnects: 1, replayed: 0, gaps: 1 });
        // From then on it follows the log again: the next cut is replayed.
        await a.publish({ type: 'delete', keys: ['live'] });
        await expect.poll(() => received.length).toBe(1);
        await replaysTheOneMissed(a, b, proxy, received);
      } finally {
        await a.close();
        await b.close();
        await proxy.close();
      }
    });

    test('a live message heard before the reading of the log after a gap keeps the cursor past it', async () => {
      const proxy = await startTcpProxy({ port: redis.server.port });
      const a = redisBus({ port: redis.server.port, channel: 'overtaken', logLength: 1 });
      const client = new Redis(proxy.port);
      // b's script answers can be held back, so that its reading of the log after the gap
      // (sent before a's next message) comes back after that message, heard on the subscriber.
      let holdBack = 0;
      for (const name of ['evalsha', 'eval'] as const) {
        const send = client[name].bind(client) as (...args: unknown[]) => Promise<unknown>;
        (client as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
          const wait = holdBack;
          return send(...args).then(async (answer) => {
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            return answer;
          });
        };
      }
      const b = redisBus({ client, channel: 'overtaken', logLength: 1 });
      try {
        const received: BusMessage[] = [];
        await b.subscribe((message) => received.push(message));
        await proxy.disconnect();
        for (let i = 0; i < 300; i++) await a.publish({ type: 'delete', keys: [`k${i}`] });
        holdBack = 300;
        const distrusted = new Promise<void>((resolve) => b.on('reconnect', resolve));
        await proxy.restore();
        await distrusted; // b now reads where the log stands, its answer held back
        await a.publish({ type: 'delete', keys: ['live'] });
        await expect.poll(() => received.length).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 400)); // the reading has come back
        holdBack = 0;
        await replaysTheOneMissed(a, b, proxy, received);
      } finally {
        await a.close();
        await b.close();
        client.disconnect();
        await proxy.close();
      }
    });

    test('a message from a bus without a log (or an older version) is received as well', async () => {
      const a = redisBus({ port: redis.server.port, channel: 'mixed', log: false });
      const b = redisBus({ port: redis.server.port, channel: 'mixed' });
      try {
        await b.subscribe(() => {});
        const received = nextMessage(b);
        await a.publish({ type: 'delete', keys: ['k'] });
        expect(await received).toMatchObject({ type: 'delete', keys: ['k'] });
        expect(await redis.raw.exists('mixed:log')).toBe(1); // b's mark, nothing from a
        expect(await redis.raw.xlen('mixed:log')).toBe(1);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a subscriber whose Redis came back from an older snapshot distrusts: what it missed went with the log', async () => {
      const proxy = await startTcpProxy({ port: redis.server.port });
      const a = redisBus({ port: redis.server.port, channel: 'snapshot' });
      const b = redisBus({ port: proxy.port, channel: 'snapshot' });
      try {
        const received: BusMessage[] = [];
        await b.subscribe((message) => received.push(message));
        const after = new Promise<string>((resolve) => {
          b.on('reconnect', () => resolve('distrusted'));
          b.on('resume', (replayed) => resolve(`resumed, ${replayed} replayed`));
        });
        await a.publish({ type: 'delete', keys: ['before'] });
        await expect.poll(() => received.length).toBe(1);
        await redis.raw.save(); // the snapshot holds the log up to b's cursor
        await proxy.disconnect();
        await a.publish({ type: 'delete', keys: ['missed'] }); // b is away; logged after the snapshot
        await redis.server.kill();
        await redis.server.restart(); // from the snapshot: b's cursor is there, 'missed' is not
        await proxy.restore();
        expect(await after).toBe('distrusted');
        expect(received.map(({ keys }) => keys)).toEqual([['before']]);
        expect(b.stats()).toMatchObject({ gaps: 1 });
      } finally {
        await a.close();
        await b.close();
        await proxy.close();
        await redis.raw.flushall().catch(() => {});
        await redis.raw.save().catch(() => {}); // later restarts start empty again
      }
    });

    test('after Redis restarts, the subscriber resubscribes and emits reconnect', async () => {
      await expectResubscribedAfterRestart(
        redis,
        redisBus({ port: redis.server.port, channel: 'inv3' }),
        redisBus({ port: redis.server.port, channel: 'inv3' }),
      );
    });
  });
});
