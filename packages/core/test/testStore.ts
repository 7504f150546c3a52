import {
  type CacheEntry,
  type CacheStore,
  createCache,
  defaultSerializer,
  expired,
  globToRegExp,
  type InvalidationMessage,
  mergeTagRecord,
  RESERVED_PREFIX,
  type Serializer,
  StoreError,
} from '../src/index.js';

/**
 * A minimal Map-backed store for core's tests (core cannot depend on @cache/memory, which
 * depends on it). `async` answers with promises like a remote store; `down` makes every call
 * fail like a dead server; with a serializer it stores text like Redis does; `expire: false`
 * leaves out `expire` and `expirePrefix` (soft invalidation); `merge: true` adds
 * `mergeTagRecords` (a `'set'` to {@link TestStore.pause}).
 */
export class TestStore implements CacheStore {
  readonly name = 'test';
  readonly data: Map<string, CacheEntry | string>;
  down = false;
  reads = 0;
  readonly expire?: (keys: string[]) => number | Promise<number>;
  readonly expirePrefix?: (prefix: string) => void | Promise<void>;
  readonly mergeTagRecords?: (records: [string, CacheEntry][]) => void | Promise<void>;
  /** Calls held by {@link TestStore.pause} so far. */
  held = 0;

  constructor(
    readonly options: {
      async?: boolean;
      serializer?: Serializer;
      expire?: boolean;
      merge?: boolean;
    } = {},
    data?: Map<string, CacheEntry | string>,
  ) {
    this.data = data ?? new Map();
    if (options.expire !== false) {
      this.expire = (keys) =>
        this.#answer('delete', () => keys.filter((key) => this.#expireOne(key)).length);
      this.expirePrefix = (prefix) =>
        this.#answer('delete', () => {
          for (const key of [...this.data.keys()]) {
            if (key.startsWith(prefix) && !key.startsWith(RESERVED_PREFIX)) this.#expireOne(key);
          }
        });
    }
    if (options.merge) {
      this.mergeTagRecords = (records) =>
        this.#answer('set', () => {
          for (const [key, entry] of records) {
            const stored = this.data.get(key);
            const old = typeof stored === 'string' ? this.#decode(stored) : stored;
            const merged = mergeTagRecord(old, entry);
            const { serializer } = this.options;
            this.data.set(key, serializer ? serializer.serialize(merged) : merged);
          }
        });
    }
  }

  // Marks the key's entry expired (SOFT_EXPIRED), or drops it without grace; whether it was held.
  #expireOne(key: string): boolean {
    const stored = this.data.get(key);
    if (stored === undefined) return false;
    const entry = typeof stored === 'string' ? this.#decode(stored) : stored;
    if (entry.staleUntil === undefined) this.data.delete(key);
    else {
      const { serializer } = this.options;
      const soft = expired(entry);
      this.data.set(key, serializer ? serializer.serialize(soft) : soft);
    }
    return true;
  }

  readonly #paused = new Map<string, Promise<void>>();

  /**
   * Holds every later `operation` (`'get'`, `'set'`, or `'delete'`, which covers clear and patterns) until the
   * returned function is called; the held calls then run in the order they were made.
   */
  pause(operation: 'get' | 'set' | 'delete'): () => void {
    let resume!: () => void;
    this.#paused.set(operation, new Promise<void>((r) => (resume = r)));
    return () => {
      this.#paused.delete(operation);
      resume();
    };
  }

  get(key: string) {
    this.reads++;
    return this.#answer('get', () => {
      const stored = this.data.get(key);
      if (stored === undefined) return undefined;
      const entry = typeof stored === 'string' ? this.#decode(stored) : stored;
      if ((entry.staleUntil ?? entry.expiresAt) <= Date.now()) {
        this.data.delete(key);
        return undefined;
      }
      return entry;
    });
  }

  set(key: string, entry: CacheEntry) {
    return this.#answer('set', () => {
      const { serializer } = this.options;
      this.data.set(key, serializer ? serializer.serialize(entry) : entry);
    });
  }

  delete(key: string) {
    return this.#answer('delete', () => this.data.delete(key));
  }

  // Like every store, clear(prefix) and deletePattern spare the cache's own records.
  clear(prefix?: string) {
    return this.#answer('delete', () => {
      for (const key of [...this.data.keys()]) {
        if (prefix === undefined || (key.startsWith(prefix) && !key.startsWith(RESERVED_PREFIX))) {
          this.data.delete(key);
        }
      }
    });
  }

  deletePattern(pattern: string) {
    return this.#answer('delete', () => {
      const re = globToRegExp(pattern);
      let count = 0;
      for (const key of [...this.data.keys()]) {
        if (re.test(key) && !key.startsWith(RESERVED_PREFIX) && this.data.delete(key)) count++;
      }
      return count;
    });
  }

  readonly listeners = new Set<(message: InvalidationMessage) => void>();

  /** Delivers `message` as if another process had published it. */
  receive(message: InvalidationMessage): void {
    for (const listener of this.listeners) listener(message);
  }

  subscribe(listener: (message: InvalidationMessage) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  withSerializer(serializer: Serializer): TestStore {
    const view = new TestStore({ ...this.options, serializer }, this.data);
    return view;
  }

  #decode(text: string): CacheEntry {
    return (this.options.serializer ?? defaultSerializer).deserialize(text) as CacheEntry;
  }

  #answer<T>(operation: string, work: () => T): T | Promise<T> {
    const paused = this.#paused.get(operation);
    if (paused !== undefined) {
      this.held++;
      return paused.then(() => this.#answer(operation, work));
    }
    if (this.down) {
      const error = new StoreError(this.name, 'connection refused', {
        code: 'E_STORE_UNAVAILABLE',
      });
      if (this.options.async) return Promise.reject(error);
      throw error;
    }
    return this.options.async ? Promise.resolve().then(work) : work();
  }
}

/**
 * A store answering from an in-process map at once (an L1) and never for anything else (a hung
 * L2 behind it): misses and writes wait forever.
 */
export function l1OverHungL2(): { store: CacheStore; l1: Map<string, CacheEntry> } {
  const l1 = new Map<string, CacheEntry>();
  const never = () => new Promise<never>(() => {});
  const store: CacheStore = {
    name: 'l1 over a hung l2',
    get: (key) => l1.get(key) ?? never(),
    set: (key, entry) => {
      l1.set(key, entry);
      return never();
    },
    delete: never,
    clear: never,
  };
  return { store, l1 };
}

/**
 * A cache over {@link l1OverHungL2} holding a fresh `'hot'` entry in its L1, whose circuit two
 * misses timing out have opened. `advance` moves fake timers (`vi.advanceTimersByTimeAsync`).
 */
export async function openCircuitOverHungL2(advance: (ms: number) => Promise<unknown>) {
  const { store, l1 } = l1OverHungL2();
  const cache = createCache({ store, storeTimeout: 100, circuitBreaker: { failures: 2 } });
  l1.set('hot', { value: 'from L1', expiresAt: Date.now() + 60_000 });
  const misses = [cache.get('a'), cache.get('b')];
  await advance(101);
  await Promise.all(misses);
  return cache;
}

/** Resolves after `ms` real milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve/reject exposed, to control when a loader finishes. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
