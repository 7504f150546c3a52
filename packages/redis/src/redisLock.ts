import { randomUUID } from 'node:crypto';
import type { CacheLock, LockHandle } from '@cache/core';
import { channels, InvalidArgumentError, isTraced, traced } from '@cache/core';
import { RedisConnection, type RedisConnectionOptions } from './connection.js';
import { LuaScript } from './luaScript.js';

// Delete or extend the lock only while it still holds our token: a holder whose lock expired
// must not release or extend the lock another process has taken since.
const RELEASE = new LuaScript(
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`,
);
const EXTEND = new LuaScript(
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`,
);

/** Options of {@link redisLock}. */
export interface RedisLockOptions extends RedisConnectionOptions {
  /**
   * Prepended to the key to name the lock in Redis.
   * @default 'cache-lock:' (outside the store's default `cache:`, so `clear()` never removes a lock)
   */
  prefix?: string;
  /**
   * Time in ms between two attempts to take a lock another process holds (a random jitter of up
   * to half of it is added, so waiters do not retry in lockstep).
   * @default 50
   */
  retryDelay?: number;
}

/**
 * A distributed lock on Redis implementing `CacheLock` for `getOrSet`'s `lock` option: the lock
 * is a key set with `SET NX PX` to a random token, released and extended by Lua scripts that
 * check the token. Create one with {@link redisLock}.
 */
export class RedisLock implements CacheLock {
  /** The prefix of lock keys in Redis. */
  readonly prefix: string;
  readonly #connection: RedisConnection;
  readonly #retryDelay: number;

  /** Prefer {@link redisLock}. */
  constructor(options: RedisLockOptions = {}) {
    const { prefix, retryDelay, ...connectionOptions } = options;
    this.prefix = prefix ?? 'cache-lock:';
    this.#retryDelay = retryDelay ?? 50;
    if (!(Number.isFinite(this.#retryDelay) && this.#retryDelay > 0)) {
      throw new InvalidArgumentError('retryDelay', 'expected a positive number of milliseconds');
    }
    this.#connection = new RedisConnection(connectionOptions, { checkMemoryPolicy: false });
  }

  /**
   * Takes the lock on `key` for `ttl` ms, retrying while another holder has it, for up to
   * `timeout` ms. Resolves `undefined` when the wait timed out or `signal` aborted; rejects with
   * a `StoreError` when Redis fails, so the caller can decide to run without the lock.
   */
  acquire(
    key: string,
    options: { ttl: number; timeout: number; signal?: AbortSignal },
  ): Promise<LockHandle | undefined> {
    if (!isTraced(channels.lockAcquire)) return this.#acquire(key, options);
    return traced(channels.lockAcquire, { key }, () => this.#acquire(key, options)) as Promise<
      LockHandle | undefined
    >;
  }

  async #acquire(
    key: string,
    options: { ttl: number; timeout: number; signal?: AbortSignal },
  ): Promise<LockHandle | undefined> {
    const { ttl, timeout, signal } = options;
    if (!(Number.isFinite(ttl) && ttl > 0)) {
      throw new InvalidArgumentError('ttl', 'expected a positive number of milliseconds');
    }
    const lockKey = this.prefix + key;
    const token = randomUUID();
    const px = Math.ceil(ttl);
    const deadline = Date.now() + timeout;
    for (;;) {
      if (signal?.aborted) return undefined;
      const taken = await this.#connection.run((client) =>
        client.set(lockKey, token, 'PX', px, 'NX'),
      );
      if (taken === 'OK') return this.#handle(lockKey, token);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      const delay = Math.min(left, this.#retryDelay * (1 + Math.random() / 2));
      if (!(await pause(delay, signal))) return undefined;
    }
  }

  #handle(lockKey: string, token: string): LockHandle {
    const connection = this.#connection;
    return {
      async release() {
        await connection.run((client) => RELEASE.run(client, [lockKey], [token]));
      },
      async extend(ttl: number) {
        const extended = await connection.run((client) =>
          EXTEND.run(client, [lockKey], [token, String(Math.ceil(ttl))]),
        );
        return extended === 1;
      },
    };
  }

  /** Stops using Redis: quits the client if the lock created it. */
  close(): Promise<void> {
    return this.#connection.close();
  }
}

/** Waits `ms`; resolves `false` early when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Creates a {@link RedisLock} for `createCache({ lock })`, so that N processes asking for the
 * same cold key run its loader once. Pass the store's `client` to share its connection.
 *
 * @example
 * ```ts
 * const store = redisStore({ url });
 * const cache = createCache({ store, lock: redisLock({ client: store.client }) });
 * ```
 */
export function redisLock(options: RedisLockOptions = {}): RedisLock {
  return new RedisLock(options);
}
