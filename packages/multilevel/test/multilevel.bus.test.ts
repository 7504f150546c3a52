import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { type RedisStore, redisBus, redisStore } from '@cache/redis';
import { type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type MultilevelStore, multilevel } from '../src/index.js';

let server: RedisServer;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await Promise.allSettled(open.map((o) => o.close()));
  await server?.stop();
});

async function instance(channel: string) {
  const l1 = memoryStore();
  const l2: RedisStore = redisStore({ port: server.port, prefix: `${channel}:` });
  const bus = redisBus({ client: l2.client, channel });
  await bus.subscribe(() => {});
  const store: MultilevelStore = multilevel({ tiers: [l1, l2], bus });
  open.push(store, bus);
  return { l1, l2, bus, store, cache: createCache({ store }) };
}

describe('the bus', () => {
  test('a clear in one instance clears the other one’s L1 under the prefix only', async () => {
    const a = await instance('clear');
    const b = await instance('clear');
    await a.cache.set('user:1', 'a');
    await a.cache.set('post:1', 'p');
    await b.cache.get('user:1');
    await b.cache.get('post:1');
    const seen = new Promise((resolve) => b.store.on('invalidate', resolve));
    await a.cache.namespace('user').clear();
    await seen;
    expect(b.l1.get('user:1')).toBeUndefined();
    expect(b.l1.get('post:1')?.value).toBe('p');
  });

  test('after the bus reconnects, L1 is cleared because messages may have been missed', async () => {
    const a = await instance('reconnect');
    await a.cache.set('k', 'v');
    expect(a.l1.get('k')?.value).toBe('v');
    const distrusted = new Promise((resolve) => a.store.on('distrust', resolve));
    await server.kill();
    await server.restart();
    expect(await distrusted).toEqual({ reason: 'bus-reconnect' });
    expect(a.l1.get('k')).toBeUndefined();
    expect(a.store.stats().distrusts).toBe(1);
    // And the instance works again once Redis is back.
    expect(await a.cache.getOrSet('k', async () => 'reloaded')).toBe('reloaded');
  });
});
