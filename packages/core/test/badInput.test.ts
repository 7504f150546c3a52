import { describe, expect, test } from 'vitest';
import {
  createCache,
  defaultSerializer,
  InvalidArgumentError,
  SerializationError,
} from '../src/index.js';
import { TestStore } from './testStore.js';

function argumentOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as InvalidArgumentError).argument;
  }
  return undefined;
}

async function rejectedArgument(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return (error as InvalidArgumentError).argument;
}

describe('bad input gets a typed error naming the argument', () => {
  const cache = createCache({ store: new TestStore() });

  test('an empty or non-string key', async () => {
    for (const key of ['', 42, undefined, null, {}] as unknown as string[]) {
      expect(await rejectedArgument(cache.get(key))).toBe('key');
      expect(await rejectedArgument(cache.set(key, 1))).toBe('key');
      expect(await rejectedArgument(cache.getOrSet(key, () => 1))).toBe('key');
      expect(await rejectedArgument(cache.delete(key))).toBe('key');
    }
    expect(await rejectedArgument(cache.getMany(['a', '']))).toBe('key');
  });

  test("a NaN, negative, negative-infinite or unreadable TTL (+Infinity is 'forever')", async () => {
    for (const ttl of [Number.NaN, -1, Number.NEGATIVE_INFINITY, '10 parsecs', '']) {
      expect(await rejectedArgument(cache.set('k', 1, { ttl }))).toBe('ttl');
      expect(await rejectedArgument(cache.getOrSet(`k${String(ttl)}`, () => 1, { ttl }))).toBe(
        'ttl',
      );
      expect(argumentOf(() => createCache({ store: new TestStore(), ttl }))).toBe('ttl');
    }
    expect(argumentOf(() => createCache({ store: new TestStore(), jitter: -5 }))).toBe('jitter');
    expect(argumentOf(() => createCache({ store: new TestStore(), grace: Number.NaN }))).toBe(
      'grace',
    );
    expect(argumentOf(() => createCache({ store: new TestStore(), timeouts: { hard: -1 } }))).toBe(
      'timeouts.hard',
    );
  });

  test('a loader that is not a function', async () => {
    expect(await rejectedArgument(cache.getOrSet('k', 'nope' as never))).toBe('loader');
  });

  test('an undefined value', async () => {
    expect(await rejectedArgument(cache.set('k', undefined))).toBe('value');
  });

  test('bad tags or version', async () => {
    expect(await rejectedArgument(cache.set('k', 1, { tags: [''] }))).toBe('tags');
    expect(await rejectedArgument(cache.set('k', 1, { version: Number.NaN }))).toBe('version');
  });

  test('a missing store or a bad namespace', () => {
    expect(argumentOf(() => createCache({} as never))).toBe('store');
    expect(argumentOf(() => createCache(undefined as never))).toBe('options');
    expect(argumentOf(() => cache.namespace(''))).toBe('namespace');
  });

  test('a value the serializer cannot encode is rejected and nothing is stored', async () => {
    const store = new TestStore();
    const serialized = createCache({ store, serializer: defaultSerializer });
    await expect(serialized.set('k', { run() {} })).rejects.toBeInstanceOf(SerializationError);
    expect(store.data.size).toBe(0);
  });

  test('a loader result the serializer cannot encode is returned, reported and not stored', async () => {
    const store = new TestStore();
    const serialized = createCache({ store, serializer: defaultSerializer });
    const errors: unknown[] = [];
    serialized.on('error', (e) => errors.push(e));
    const fn = () => 1;
    expect(await serialized.getOrSet('k', () => ({ fn }))).toEqual({ fn });
    expect(errors).toEqual([expect.objectContaining({ operation: 'serialize', dropped: true })]);
    expect(store.data.size).toBe(0);
  });
});
