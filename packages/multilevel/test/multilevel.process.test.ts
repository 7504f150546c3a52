import type { ChildProcess } from 'node:child_process';
import { forkFixture } from '@cache-tooling/config/processes';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let server: RedisServer;
  let raw: Redis;
  const nodes: Node[] = [];

  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.port);
  });
  afterEach(() => {
    for (const node of nodes.splice(0)) node.child.kill('SIGKILL');
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  interface Node {
    child: ChildProcess;
    send(command: Record<string, unknown>): Promise<unknown>;
    nextInvalidation(): Promise<{ keys: string[]; at: number }>;
  }

  async function startNode(): Promise<Node> {
    const child = forkFixture(new URL('./fixtures/node.ts', import.meta.url), [
      String(server.port),
    ]);
    const waiting = new Map<number, (message: { result?: unknown; error?: string }) => void>();
    const invalidations: ((message: { keys: string[]; at: number }) => void)[] = [];
    let nextId = 0;
    child.on(
      'message',
      (message: {
        id?: number;
        event?: string;
        keys: string[];
        at: number;
        result?: unknown;
        error?: string;
      }) => {
        if (message.event === 'invalidate') invalidations.shift()?.(message);
        if (message.id !== undefined) waiting.get(message.id)?.(message);
      },
    );
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: { event?: string }) => m.event === 'ready' && resolve());
      child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
    });
    await ready;
    const node: Node = {
      child,
      send: (command) =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          waiting.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result)));
          child.send({ ...command, id });
        }),
      nextInvalidation: () => new Promise((resolve) => invalidations.push(resolve)),
    };
    nodes.push(node);
    return node;
  }

  describe('two processes sharing Redis', () => {
    test('a delete in one evicts the key from the other one’s L1', async () => {
      const [a, b] = await Promise.all([startNode(), startNode()]);
      expect(await a.send({ cmd: 'getOrSet', key: 'user:1', value: 'Ada' })).toBe('Ada');
      expect(await b.send({ cmd: 'getOrSet', key: 'user:1', value: 'never loaded' })).toBe('Ada');
      expect(await b.send({ cmd: 'inL1', key: 'user:1' })).toBe('Ada');

      const evicted = b.nextInvalidation();
      const start = performance.timeOrigin + performance.now();
      await a.send({ cmd: 'delete', key: 'user:1' });
      const { keys, at } = await evicted;
      expect(keys).toEqual(['user:1']);
      expect(await b.send({ cmd: 'inL1', key: 'user:1' })).toBeUndefined();
      console.log(
        `L1 eviction reached the other process ${(at - start).toFixed(2)} ms after delete() began`,
      );
    });

    test('a set in one makes the other read the new value, not its L1 copy', async () => {
      const [a, b] = await Promise.all([startNode(), startNode()]);
      await a.send({ cmd: 'getOrSet', key: 'cfg', value: 'v1' });
      expect(await b.send({ cmd: 'getOrSet', key: 'cfg', value: 'unused' })).toBe('v1');
      const evicted = b.nextInvalidation();
      await a.send({ cmd: 'set', key: 'cfg', value: 'v2' });
      await evicted;
      expect(await b.send({ cmd: 'getOrSet', key: 'cfg', value: 'unused' })).toBe('v2');
    });

    test('4 processes × 1,000 concurrent cold getOrSet with the Redis lock call the loader once', async () => {
      const group = await Promise.all([startNode(), startNode(), startNode(), startNode()]);
      const results = await Promise.all(
        group.map((node) =>
          node.send({ cmd: 'stampede', key: 'cold', callers: 1_000, counter: 'loads' }),
        ),
      );
      expect(Number(await raw.get('loads'))).toBe(1);
      expect(new Set(results.flat() as string[]).size).toBe(1);
    });

    test('4 processes × 100 concurrent cold getOrSetMany of 20 keys with the Redis lock load each key once', async () => {
      const group = await Promise.all([startNode(), startNode(), startNode(), startNode()]);
      const keys = Array.from({ length: 20 }, (_, i) => `many:${i}`);
      const results = (await Promise.all(
        group.map((node) =>
          node.send({ cmd: 'stampedeMany', keys, callers: 100, counter: 'manyLoads' }),
        ),
      )) as string[][][];
      expect(Number(await raw.get('manyLoads'))).toBe(keys.length);
      keys.forEach((key, i) => {
        // Every caller of every process got one value for the key, loaded once.
        const served = new Set(results.flatMap((perKey) => perKey[i]!));
        expect(served.size).toBe(1);
        expect([...served][0]).toMatch(new RegExp(`^${key} loaded by \\d+$`));
      });
    });
  });
});
