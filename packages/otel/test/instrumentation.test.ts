import { channels, createCache } from '@cache/core';
import { memoryStore } from '@cache/memory';
import { writeBehind } from '@cache/write-behind';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, test } from 'vitest';
import { type CacheInstrumentation, instrumentCache } from '../src/index.js';
import { telemetrySdk } from './metrics.js';

let sdk: ReturnType<typeof telemetrySdk>;
let instrumentation: CacheInstrumentation | undefined;

function instrument(options: Parameters<typeof instrumentCache>[0] = {}) {
  sdk = telemetrySdk();
  instrumentation = instrumentCache({
    meterProvider: sdk.meterProvider,
    tracerProvider: sdk.tracerProvider,
    ...options,
  });
  return sdk;
}

afterEach(async () => {
  instrumentation?.stop();
  instrumentation = undefined;
  await sdk?.shutdown();
});

// A clock the test moves, so that an entry goes stale without waiting.
function manualClock() {
  let now = Date.now();
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('metrics from a known sequence over one memory store', () => {
  test('operations by outcome and namespace, load latency, loads in flight, tier 0 store calls', async () => {
    const store = memoryStore();
    const { total } = instrument({ memoryStores: [store] });
    const clock = manualClock();
    const cache = createCache({ store, ttl: '1m', grace: '1h', clock });
    const users = cache.namespace('user');
    expect(await users.getOrSet('1', () => 'Ada')).toBe('Ada'); // miss, load
    await cache.flush();
    expect(await users.getOrSet('1', () => 'Bob')).toBe('Ada'); // hit
    clock.advance(61_000);
    const failing = () => {
      throw new Error('db down');
    };
    expect(await users.getOrSet('1', failing)).toBe('Ada'); // miss, failed load, stale
    expect(await cache.get('post:9')).toBeUndefined(); // get miss

    const ops = 'cache.operations';
    expect(await total(ops, { 'cache.operation': 'getOrSet', 'cache.outcome': 'hit' })).toBe(1);
    expect(await total(ops, { 'cache.operation': 'getOrSet', 'cache.outcome': 'miss' })).toBe(2);
    expect(
      await total(ops, { 'cache.outcome': 'stale', 'cache.stale_reason': 'loader-error' }),
    ).toBe(1);
    expect(await total(ops, { 'cache.namespace': 'user', 'cache.store': 'memory' })).toBe(4);
    expect(await total(ops, { 'cache.operation': 'get', 'cache.namespace': 'post' })).toBe(1);
    expect(await total('cache.load.duration', { 'cache.namespace': 'user' })).toBe(2);
    expect(await total('cache.load.duration', { 'error.type': 'Error' })).toBe(1);
    expect(await total('cache.load.active')).toBe(0);
    const calls = 'cache.store.operations';
    expect(await total(calls, { 'cache.tier': 0, 'cache.operation': 'set' })).toBe(1);
    // The store judges freshness by the wall clock, which did not move: its third read is a hit.
    expect(await total(calls, { 'cache.tier': 0, 'cache.outcome': 'hit' })).toBe(2);
    expect(await total(calls, { 'cache.tier': 0, 'cache.outcome': 'miss' })).toBe(2); // user:1, post:9
    // The memory store answers synchronously: its calls are counted, not timed.
    expect(await total('cache.store.duration', { 'cache.tier': 0 })).toBe(0);
    expect(await total('cache.memory.entries', { 'cache.store': 'memory' })).toBe(1);
  });

  test('evictions are counted and the entries observed', async () => {
    const store = memoryStore({ maxEntries: 2 });
    const { total } = instrument({ memoryStores: [store] });
    const cache = createCache({ store });
    for (const key of ['a', 'b', 'c', 'd']) await cache.set(key, key);
    expect(await total('cache.evictions', { 'cache.store': 'memory' })).toBe(2);
    expect(await total('cache.memory.entries')).toBe(2);
  });

  test('namespace labels past maxNamespaces are reported as _other; keys are never labels', async () => {
    const { points, total } = instrument({ maxNamespaces: 2 });
    const cache = createCache({ store: memoryStore() });
    for (const key of ['a:1', 'b:1', 'c:1', 'd:1']) await cache.get(key);
    expect(await total('cache.operations', { 'cache.namespace': '_other' })).toBe(2);
    const labels = (await points('cache.operations')).flatMap((p) => Object.values(p.attributes));
    expect(labels).not.toContain('a:1');
  });

  test('after stop() nothing more is recorded: the channels have no subscriber left', async () => {
    const { total } = instrument();
    const cache = createCache({ store: memoryStore() });
    await cache.get('a');
    expect(await total('cache.operations')).toBe(1);
    expect(channels.operation.hasSubscribers).toBe(true);
    instrumentation!.stop();
    await cache.get('a');
    expect(await total('cache.operations')).toBe(1); // the SDK keeps the last sum, not 2
    expect(channels.operation.hasSubscribers).toBe(false);
    expect(channels.store.start.hasSubscribers).toBe(false);
  });
});

describe('write-behind', () => {
  test('queue depth, flush latency, retries and dead letters', async () => {
    let failures = 1;
    const written: string[] = [];
    const dead: string[] = [];
    const behind = writeBehind<string>({
      write: (rows) => {
        if (rows.some((row) => row.key === 'poison')) throw new Error('bad row');
        if (failures-- > 0) throw new Error('db busy');
        written.push(...rows.map((row) => row.key));
      },
      deadLetter: (entries) => {
        dead.push(...entries.map((entry) => entry.key));
      },
      retry: { retries: 1, minDelay: 1, maxDelay: 1 },
      flushInterval: '1h',
    });
    const { total } = instrument({ writeBehinds: [behind] });
    try {
      await behind.write('a', '1');
      await behind.write('b', '2');
      expect(await total('cache.write_behind.queue.depth')).toBe(2);
      await behind.flush();
      await behind.write('poison', '3');
      await behind.flush();
      expect(written).toEqual(['a', 'b']);
      expect(dead).toEqual(['poison']);
      expect(await total('cache.write_behind.queue.depth')).toBe(0);
      expect(await total('cache.write_behind.retries')).toBe(2);
      expect(await total('cache.write_behind.dead_letters')).toBe(1);
      expect(await total('cache.write_behind.flush.duration')).toBe(2);
    } finally {
      await behind.close();
    }
  });
});

describe('spans', () => {
  test('none without a parent span', async () => {
    const { spanExporter } = instrument();
    const cache = createCache({ store: memoryStore() });
    await cache.getOrSet('user:1', () => 'Ada');
    expect(spanExporter.getFinishedSpans()).toEqual([]);
  });

  test('under a parent: getOrSet with its outcome and hashed key, and its load as a child', async () => {
    const { tracerProvider, spanExporter } = instrument();
    const cache = createCache({ store: memoryStore() });
    const tracer = tracerProvider.getTracer('test');
    await tracer.startActiveSpan('request', async (parent) => {
      await cache.getOrSet('user:1', async () => 'Ada');
      parent.end();
    });
    const spans = spanExporter.getFinishedSpans();
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    const getOrSet = byName['cache getOrSet']!;
    const load = byName['cache load']!;
    expect(getOrSet.parentSpanContext?.spanId).toBe(byName.request!.spanContext().spanId);
    expect(load.parentSpanContext?.spanId).toBe(getOrSet.spanContext().spanId);
    expect(getOrSet.attributes['cache.outcome']).toBe('miss');
    expect(getOrSet.attributes['cache.key.hash']).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain('user:1');
  });

  test("keys: 'omit' leaves keys out, 'raw' puts them as they are; a failed load is an error span", async () => {
    const { tracerProvider, spanExporter } = instrument({ keys: 'raw' });
    const cache = createCache({ store: memoryStore() });
    await tracerProvider.getTracer('test').startActiveSpan('request', async (parent) => {
      await cache.getOrSet('user:2', () => Promise.reject(new Error('db down'))).catch(() => {});
      parent.end();
    });
    const load = spanExporter.getFinishedSpans().find((s) => s.name === 'cache load')!;
    expect(load.attributes['cache.key']).toBe('user:2');
    expect(load.status.code).toBe(2);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
