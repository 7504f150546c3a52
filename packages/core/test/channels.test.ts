import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  type BreakerMessage,
  channels,
  createCache,
  type KeyMessage,
  type OperationMessage,
  type StoreCallMessage,
} from '../src/index.js';
import { TestStore } from './testStore.js';

// Subscribes to a channel by name for the test; the subscriptions end after it.
const subscriptions: [string, (message: unknown) => void][] = [];
function listen<T>(name: string): T[] {
  const seen: T[] = [];
  const listener = (message: unknown) => seen.push(structuredClone(message) as T);
  subscribe(name, listener);
  subscriptions.push([name, listener]);
  return seen;
}
afterEach(() => {
  vi.useRealTimers();
  for (const [name, listener] of subscriptions.splice(0)) unsubscribe(name, listener);
});

describe('diagnostics channels', () => {
  test('cache:operation tells each lookup: a miss, a fast-path hit, a stale serve with its reason', async () => {
    const operations = listen<OperationMessage>('cache:operation');
    // A TTL the hit fits in even on a busy machine, waited out before the stale serve.
    const cache = createCache({ store: new TestStore(), ttl: 500, grace: '1h' });
    await cache.getOrSet('user:1', () => 'Ada');
    await cache.flush();
    await cache.getOrSet('user:1', () => 'Ada');
    await new Promise((resolve) => setTimeout(resolve, 550));
    await cache.getOrSet('user:1', () => {
      throw new Error('db down');
    });
    await cache.get('user:2');
    expect(operations.map((m) => [m.operation, m.outcome, m.reason, m.key, m.store])).toEqual([
      ['getOrSet', 'miss', undefined, 'user:1', 'test'],
      ['getOrSet', 'hit', undefined, 'user:1', 'test'],
      ['getOrSet', 'miss', undefined, 'user:1', 'test'],
      ['getOrSet', 'stale', 'loader-error', 'user:1', 'test'],
      ['get', 'miss', undefined, 'user:2', 'test'],
    ]);
  });

  test('cache:getOrSet and cache:load trace each call from start to completion', async () => {
    const started = listen<KeyMessage>('tracing:cache:getOrSet:start');
    const done = listen<KeyMessage>('tracing:cache:getOrSet:asyncEnd');
    const loads = listen<KeyMessage>('tracing:cache:load:asyncEnd');
    const failed = listen<KeyMessage>('tracing:cache:load:error');
    const cache = createCache({ store: new TestStore({ async: true }) });
    expect(await cache.namespace('users').getOrSet('1', async () => 'Ada')).toBe('Ada');
    await expect(
      cache.getOrSet('2', () => {
        throw new Error('db down');
      }),
    ).rejects.toThrow();
    expect(started.map((m) => m.key)).toEqual(['users:1', '2']);
    expect(done.map((m) => [m.key, m.result, m.error !== undefined])).toEqual([
      ['users:1', 'Ada', false],
      ['2', undefined, true],
    ]);
    expect(loads.map((m) => [m.key, m.store, m.result])).toEqual([
      ['users:1', 'test', 'Ada'],
      ['2', 'test', undefined],
    ]);
    expect(failed.map((m) => (m.error as Error).message)).toEqual(['db down']);
  });

  test('cache:store traces every store call as tier 0, reads with their outcome', async () => {
    const calls = listen<StoreCallMessage>('tracing:cache:store:asyncEnd');
    const cache = createCache({ store: new TestStore({ async: true }) });
    await cache.getOrSet('a', () => 1);
    await cache.flush();
    await cache.getOrSet('a', () => 1);
    await cache.delete('a');
    expect(calls.map((m) => [m.tier, m.operation, m.key, m.outcome])).toEqual([
      [0, 'get', 'a', 'miss'],
      [0, 'set', 'a', undefined],
      [0, 'get', 'a', 'hit'],
      [0, 'delete', 'a', undefined],
    ]);
  });

  test('a synchronous store traces its fast-path hits too', async () => {
    const calls = listen<StoreCallMessage>('tracing:cache:store:asyncEnd');
    const cache = createCache({ store: new TestStore() });
    await cache.set('a', 1);
    await cache.getOrSet('a', () => 2);
    expect(calls.map((m) => [m.operation, m.outcome])).toEqual([
      ['set', undefined],
      ['get', 'hit'],
    ]);
  });

  test("cache:breaker tells when the cache's own breaker opens and closes", async () => {
    vi.useFakeTimers();
    const states = listen<BreakerMessage>('cache:breaker');
    const store = new TestStore({ async: true });
    const cache = createCache({
      store,
      storeTimeout: 100,
      circuitBreaker: { failures: 2, cooldown: '1s' },
    });
    const resume = store.pause('get');
    const reads = [cache.get('a'), cache.get('b')];
    await vi.advanceTimersByTimeAsync(101);
    await Promise.all(reads);
    expect(states).toEqual([{ store: 'test', state: 'open' }]);
    resume();
    await vi.advanceTimersByTimeAsync(1_001);
    await cache.get('probe');
    expect(states).toEqual([
      { store: 'test', state: 'open' },
      { store: 'test', state: 'closed' },
    ]);
  });

  test('nothing is published while nobody subscribes', async () => {
    expect(channels.operation.hasSubscribers).toBe(false);
    const cache = createCache({ store: new TestStore() });
    await cache.getOrSet('a', () => 1);
    expect(cache.stats().hits + cache.stats().misses).toBe(1);
  });
});

describe('stats()', () => {
  test('gives the hit ratio and load latency percentiles', async () => {
    const cache = createCache({ store: new TestStore() });
    for (let i = 0; i < 4; i++) await cache.getOrSet(`k${i % 2}`, () => i);
    const stats = cache.stats();
    expect(stats.hits).toBe(2);
    expect(stats.misses).toBe(2);
    expect(stats.hitRatio).toBe(0.5);
    expect(stats.loadLatency.count).toBe(2);
    expect(stats.loadLatency.p50).toBeGreaterThanOrEqual(0);
    expect(stats.loadLatency.p99).toBeGreaterThanOrEqual(stats.loadLatency.p50);
    expect(stats.tiers).toEqual([]);
  });

  test('hit ratio is NaN and percentiles are NaN before the first lookup', () => {
    const stats = createCache({ store: new TestStore() }).stats();
    expect(stats.hitRatio).toBeNaN();
    expect(stats.loadLatency).toEqual({
      p50: Number.NaN,
      p90: Number.NaN,
      p99: Number.NaN,
      count: 0,
    });
  });
});
