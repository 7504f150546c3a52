import type { CacheEntry, CacheStore } from '@cache/core';
import type { KeyvStoreAdapter } from 'keyv';

/** Options of {@link toKeyv}. */
export interface ToKeyvOptions {
  /**
   * Whether Keyv's `disconnect()` (cache-manager's `disconnect()` too) closes the store.
   * @default true
   */
  closeOnDisconnect?: boolean;
}

/**
 * A Keyv storage adapter over a {@link CacheStore}, made by {@link toKeyv}. Keyv keeps doing
 * its own work (serializing, prefixing keys with its namespace, checking `expires`); the store
 * keeps what Keyv hands it as the entry value, until Keyv's TTL runs out.
 */
export class CacheKeyvAdapter implements KeyvStoreAdapter {
  /** The options Keyv and its tooling read and write (Keyv's test suite sets `opts.deserialize`). */
  readonly opts: Record<string, unknown>;
  /** The Keyv namespace, set by the Keyv instance: `clear()` removes only keys under `<namespace>:`. */
  namespace?: string | undefined;
  /** The store under this adapter. */
  readonly store: CacheStore;
  readonly #closeOnDisconnect: boolean;

  constructor(store: CacheStore, options?: ToKeyvOptions) {
    this.store = store;
    this.opts = { dialect: `@cache/${store.name}` };
    this.#closeOnDisconnect = options?.closeOnDisconnect ?? true;
  }

  /** Returns what Keyv stored under `key`, or `undefined` when it is missing or expired. */
  async get<Value>(key: string): Promise<Value | undefined> {
    return (await this.store.get(key))?.value as Value | undefined;
  }

  /** Returns one slot per key, in order; uses the store's `getMany` when it has one. */
  async getMany<Value>(keys: string[]): Promise<(Value | undefined)[]> {
    const entries = this.store.getMany
      ? await this.store.getMany(keys)
      : await Promise.all(keys.map((key) => this.store.get(key)));
    return entries.map((entry) => entry?.value as Value | undefined);
  }

  /** Stores Keyv's data until `ttl` ms from now (no expiry without a TTL); rejects when the store does. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.store.set(key, entryOf(value, ttl));
    return true;
  }

  /** Stores every entry, in one call when the store has `setMany`. */
  async setMany(values: { key: string; value: unknown; ttl?: number }[]): Promise<void> {
    const entries = values.map(
      ({ key, value, ttl }) => [key, entryOf(value, ttl)] as [string, CacheEntry],
    );
    if (this.store.setMany) await this.store.setMany(entries);
    else await Promise.all(entries.map(([key, entry]) => this.store.set(key, entry)));
  }

  /** Removes the key; resolves whether it existed. */
  async delete(key: string): Promise<boolean> {
    return this.store.delete(key);
  }

  /** Removes the keys; resolves whether any of them existed (what Keyv's `delete([...])` returns). */
  async deleteMany(keys: string[]): Promise<boolean> {
    if (this.store.deleteMany) return (await this.store.deleteMany(keys)) > 0;
    const found = await Promise.all(keys.map((key) => this.store.delete(key)));
    return found.includes(true);
  }

  /** Removes the keys of this adapter's Keyv namespace, or every key of the store without one. */
  async clear(): Promise<void> {
    await this.store.clear(this.namespace ? `${this.namespace}:` : undefined);
  }

  /** Closes the store, unless `closeOnDisconnect` is `false`. */
  async disconnect(): Promise<void> {
    if (this.#closeOnDisconnect) await this.store.close?.();
  }

  /**
   * Accepts Keyv's listener and never calls it: the adapter reports a failure by rejecting,
   * which Keyv turns into an `error` event of its own.
   */
  on(_event: string, _listener: (...args: any[]) => void): this {
    return this;
  }
}

// Keyv passes `undefined` for "no TTL" (it turns 0 into undefined itself).
function entryOf(value: unknown, ttl: number | undefined): CacheEntry {
  const expiresAt = ttl === undefined || ttl === 0 ? Number.POSITIVE_INFINITY : Date.now() + ttl;
  return { value, expiresAt };
}

/**
 * Makes any @cache store a Keyv storage adapter, so Keyv, cache-manager v7 and cacheable run on
 * it. Keyv serializes values before they reach the adapter (unless its `serialize` option is
 * turned off), so the store holds Keyv's text; Keyv's TTL (ms) becomes the entry's `expiresAt`.
 * Give each Keyv instance its own adapter: Keyv sets the adapter's `namespace`.
 *
 * @example
 * ```ts
 * const keyv = new Keyv({ store: toKeyv(redisStore({ url })), namespace: 'users' });
 * await keyv.set('1', { name: 'Ada' }, 60_000);
 * ```
 */
export function toKeyv(store: CacheStore, options?: ToKeyvOptions): CacheKeyvAdapter {
  return new CacheKeyvAdapter(store, options);
}
