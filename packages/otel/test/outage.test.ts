// Two tiers (memory over a real redis-server), two instances sharing Redis over a bus, the real
// OTel SDK and the real Prometheus exporter scraped over HTTP; Redis is killed and comes back.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { multilevel } from '@cache/multilevel';
import { type RedisStore, redisBus, redisLock, redisStore } from '@cache/redis';
import { hasRedis, type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { instrumentCache } from '../src/index.js';

const TTL = 1_500;

describe.skipIf(!hasRedis())('with a real redis-server', () => {
  let server: RedisServer;
  let http: Server;
  let scrapeUrl: string;
  let meterProvider: MeterProvider;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    server = await startRedis();
    const exporter = new PrometheusExporter({ preventServerStart: true });
    meterProvider = new MeterProvider({ readers: [exporter] });
    http = createServer((request, response) =>
      exporter.getMetricsRequestHandler(request, response),
    );
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    scrapeUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((o) => o.close()));
    http?.close();
    await meterProvider?.shutdown();
    await server?.stop();
  });

  function instance() {
    const l1 = memoryStore();
    const l2: RedisStore = redisStore({
      port: server.port,
      prefix: 'otel:',
      // Generous for a busy machine: a write that timed out would leave b nothing to read. Once
      // Redis is killed, calls fail at once (the connection is lost), whatever the timeout.
      timeout: 5_000,
      breaker: { threshold: 3, resetTimeout: 100 },
    });
    const bus = redisBus({ client: l2.client, channel: 'otel-bus' });
    const store = multilevel({ tiers: [l1, l2], bus });
    open.push(store);
    // A TTL the first reads fit in even on a busy machine (a's load, the bus, b's two reads), yet
    // short enough to wait out once Redis is down.
    return { l1, l2, bus, cache: createCache({ store, ttl: TTL, grace: '1h' }) };
  }

  // The value of the Prometheus sample whose name and labels match, 0 when absent.
  async function scrape() {
    const text = await (await fetch(scrapeUrl)).text();
    return {
      text,
      value(name: string, labels: Record<string, string | number> = {}): number {
        let sum = 0;
        for (const line of text.split('\n')) {
          const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
          if (match?.[1] !== name) continue;
          const has = match[2] ?? '';
          if (Object.entries(labels).every(([k, v]) => has.includes(`${k}="${v}"`))) {
            sum += Number(match[3]);
          }
        }
        return sum;
      },
    };
  }

  test('hits per tier, stale serves and the Redis breaker opening and closing, as Prometheus sees them', async () => {
    const a = instance();
    const b = instance();
    const instrumentation = instrumentCache({ meterProvider, memoryStores: [a.l1, b.l1] });
    try {
      await Promise.all([a.bus.subscribe(() => {}), b.bus.subscribe(() => {})]);
      const received = new Promise((resolve) => b.bus.subscribe(resolve));
      // a loads user:1 (a miss in both tiers) and stores it in both; b is told to drop it.
      expect(await a.cache.getOrSet('user:1', async () => 'Ada')).toBe('Ada');
      await a.cache.flush();
      await received;
      // b finds it in Redis (tier 1) and copies it into its L1; then both hit their L1 (tier 0).
      // On failure, a's store counters tell why its write is not in Redis (timeout, refused).
      const why = () => `a's store: ${JSON.stringify(a.l2.stats())}`;
      expect(await b.cache.getOrSet('user:1', async () => 'not called'), why()).toBe('Ada');
      expect(await b.cache.getOrSet('user:1', async () => 'not called')).toBe('Ada');
      expect(await a.cache.getOrSet('user:1', async () => 'not called')).toBe('Ada');

      let metrics = await scrape();
      const reads = (tier: number, outcome: string) =>
        metrics.value('cache_store_operations_total', {
          cache_tier: tier,
          cache_operation: 'get',
          cache_outcome: outcome,
        });
      expect([reads(0, 'hit'), reads(1, 'hit'), reads(1, 'miss')]).toEqual([2, 1, 1]);
      expect(metrics.value('cache_store_operations_total', { cache_operation: 'backfill' })).toBe(
        1,
      );
      expect(
        metrics.value('cache_operations_total', { cache_outcome: 'hit', cache_namespace: 'user' }),
      ).toBe(3);
      expect(metrics.value('cache_operations_total', { cache_outcome: 'miss' })).toBe(1);
      expect(metrics.value('cache_load_duration_count', { cache_store: 'multilevel' })).toBe(1);
      expect(metrics.value('cache_load_active')).toBe(0);
      expect(metrics.value('cache_memory_entries')).toBe(2);
      expect(metrics.value('cache_bus_messages_total', { cache_bus_direction: 'publish' })).toBe(1);
      expect(metrics.value('cache_bus_messages_total', { cache_bus_direction: 'receive' })).toBe(1);
      expect(metrics.value('cache_bus_lag_count')).toBe(1);
      expect(metrics.text).not.toContain('user:1');

      // Redis dies; once the entry is stale, a failing database is answered from L1 under grace.
      await server.kill();
      await new Promise((resolve) => setTimeout(resolve, TTL + 50)); // past the TTL
      const dbDown = async () => {
        throw new Error('db down');
      };
      for (let i = 0; i < 4; i++) expect(await a.cache.getOrSet('user:1', dbDown)).toBe('Ada');
      metrics = await scrape();
      expect(
        metrics.value('cache_store_operations_total', {
          cache_tier: 1,
          error_type: 'E_STORE_UNAVAILABLE',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        metrics.value('cache_breaker_transitions_total', { cache_breaker_state: 'open' }),
      ).toBeGreaterThanOrEqual(1);
      expect(metrics.value('cache_breaker_state', { cache_store: 'redis' })).toBe(2);
      expect(
        metrics.value('cache_operations_total', {
          cache_outcome: 'stale',
          cache_stale_reason: 'loader-error',
        }),
      ).toBe(1);
      // The loader failed once; for the grace backoff the next calls do not call it again.
      expect(
        metrics.value('cache_operations_total', {
          cache_outcome: 'stale',
          cache_stale_reason: 'backoff',
        }),
      ).toBe(3);
      // Redis comes back (empty): the breaker closes by itself, and a's bus subscribes again and,
      // finding nothing to replay, distrusts its L1. Wait for both: a distrust heard while the
      // next load runs voids that load, whose value is then (rightly) not stored.
      const busBack = new Promise((resolve) => {
        a.bus.on('reconnect', () => resolve(undefined));
        a.bus.on('resume', resolve);
      });
      await server.restart();
      await waitFor(
        async () => (await scrape()).value('cache_breaker_state', { cache_store: 'redis' }) === 0,
      );
      await busBack;
      expect(await a.cache.getOrSet('user:2', async () => 'Bob')).toBe('Bob');
      await a.cache.flush();
      metrics = await scrape();
      expect(
        metrics.value('cache_breaker_transitions_total', { cache_breaker_state: 'closed' }),
      ).toBeGreaterThanOrEqual(1);
      // Two writes reached Redis: user:1 before the outage, user:2 after it.
      expect(
        metrics.value('cache_store_operations_total', { cache_tier: 1, cache_operation: 'set' }),
      ).toBe(2);
      expect(metrics.value('cache_load_duration_count', { error_type: 'Error' })).toBe(1);
    } finally {
      instrumentation.stop();
    }
  });

  test('a getOrSet under a Redis lock: one acquisition, and the lease renewed before the write', async () => {
    const lock = redisLock({ port: server.port, prefix: 'otel-lock:' });
    open.push(lock);
    const cache = createCache({ store: memoryStore(), lock, lockTtl: '5s' });
    const instrumentation = instrumentCache({ meterProvider, memoryStores: [] });
    try {
      expect(await cache.getOrSet('report:1', async () => 'done')).toBe('done');
      await cache.flush();
      const metrics = await scrape();
      expect(
        metrics.value('cache_lock_acquire_duration_count', { cache_lock_outcome: 'acquired' }),
      ).toBe(1);
      expect(metrics.value('cache_lock_renewals_total', { cache_lock_outcome: 'held' })).toBe(1);
    } finally {
      instrumentation.stop();
    }
  });
});

// Polls `check` until it holds (a state reached through real I/O, not a timing assertion).
async function waitFor(check: () => Promise<boolean>, timeout = 10_000): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
