// The example app over a real redis-server, on a real port; Prometheus's view read over HTTP.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CacheStats } from '@cache/core';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type App, createApp } from '../src/app.js';
import { startTelemetry } from '../src/telemetry.js';
import { UserDatabase } from '../src/users.js';

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let redis: RedisServer;
  let telemetry: ReturnType<typeof startTelemetry>;
  let example: App;
  let server: Server;
  let url: string;
  const database = new UserDatabase(5);

  beforeAll(async () => {
    redis = await startRedis();
    telemetry = startTelemetry();
    example = createApp({ redisUrl: redis.url, database, ...telemetry });
    server = example.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
    await example?.close();
    await telemetry?.shutdown();
    await redis?.stop();
  });

  test('reads, a write-behind write, then /metrics and /stats show them', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await (await fetch(`${url}/users/1`)).json()).toEqual({ id: 1, name: 'Ada' });
    }
    const put = await fetch(`${url}/users/2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Grace H.' }),
    });
    expect(put.status).toBe(202);
    await example.writes.flush();
    expect(database.rows.get(2)).toEqual({ id: 2, name: 'Grace H.' });

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const sample = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1]);
    expect(
      sample(
        /cache_operations_total\{[^}]*cache_outcome="hit"[^}]*cache_namespace="user"[^}]*\} (\S+)/,
      ),
    ).toBe(2);
    expect(
      sample(
        /cache_store_operations_total\{[^}]*cache_tier="0",cache_operation="get",cache_outcome="hit"[^}]*\} (\S+)/,
      ),
    ).toBe(2);
    expect(sample(/cache_write_behind_flush_duration_count\{[^}]*\} (\S+)/)).toBe(1);
    expect(sample(/cache_write_behind_queue_depth\{[^}]*\} (\S+)/)).toBe(0);
    expect(sample(/cache_load_duration_count\{[^}]*cache_namespace="user"[^}]*\} (\S+)/)).toBe(1);

    const stats = (await (await fetch(`${url}/stats`)).json()) as CacheStats;
    expect(stats.hits).toBe(2);
    expect(stats.hitRatio).toBeCloseTo(2 / 3);
    expect(stats.loadLatency.count).toBe(1);
    expect(stats.tiers.map((tier) => tier.store)).toEqual(['memory', 'redis']);
  });
});
