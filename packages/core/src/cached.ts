import type { Cache } from './cache.js';
import { InvalidArgumentError } from './errors.js';
import type { GetOrSetOptions } from './options.js';
import { hashKey, stableEncode } from './stableEncode.js';

/** Encoded arguments longer than this are replaced by their hash, so keys stay short. */
const MAX_ENCODED_ARGS = 128;

/** Options of {@link cached} and {@link cachedMethod}. */
export interface CachedOptions<A extends unknown[] = unknown[]> extends GetOrSetOptions {
  /** The cache that holds the results. */
  cache: Cache;
  /** Put before the function name in every key, such as `'users'`. */
  keyPrefix?: string;
  /** The name used in keys. @default the function's (or method's) own name */
  name?: string;
  /** Builds the argument part of the key yourself. @default a stable, collision-safe encoding of all arguments */
  key?: (...args: A) => string;
  /**
   * Batching (DataLoader-style): the calls made in one tick are read together with
   * `getOrSetMany`, and the missing ones are loaded by one call of `batch` with their arguments
   * (instead of one call of the function each). It returns one result per call, in order; an
   * `Error` fails that call only. @default none: each miss calls the function
   */
  batch?: (calls: A[]) => Promise<readonly unknown[]>;
}

/**
 * Wraps an async function so its results are cached per arguments, with `getOrSet` semantics
 * (one call per key however many callers wait, grace, timeouts). Keys are
 * `keyPrefix:name:args`, the arguments encoded with {@link stableEncode} (hashed when long).
 *
 * @example
 * const getUser = cached(async (id: string) => db.users.find(id), { cache, ttl: '1h', keyPrefix: 'users' });
 */
export function cached<A extends unknown[], R>(
  fn: (...args: A) => R | Promise<R>,
  options: CachedOptions<A>,
): (...args: A) => Promise<Awaited<R>> {
  if (typeof fn !== 'function')
    throw new InvalidArgumentError('fn', `expected a function, got ${typeof fn}`);
  const { cache, keyPrefix, name, key, batch, ...rest } = checkOptions(options);
  const base = keyBase(keyPrefix, name ?? fn.name);
  if (name === undefined) claim(cache, base, fn);
  const getOrSetOptions = Object.keys(rest).length > 0 ? rest : undefined;
  if (batch !== undefined) {
    if (typeof batch !== 'function') {
      throw new InvalidArgumentError('batch', `expected a function, got ${typeof batch}`);
    }
    return batched(cache, (args) => base + argsKey(key, args), batch, getOrSetOptions) as (
      ...args: A
    ) => Promise<Awaited<R>>;
  }
  return function (this: unknown, ...args: A) {
    return call(cache, base, key, args, () => fn.apply(this, args), getOrSetOptions);
  };
}

/**
 * A TypeScript (TC39, `experimentalDecorators` off) method decorator with {@link cached}
 * semantics. The default name is `ClassName.method`; the instance is not part of the key, so
 * include instance state through `key` when results differ per instance.
 *
 * @example
 * class Users {
 *   @cachedMethod({ cache, ttl: '5m' })
 *   async find(id: string) { return db.users.find(id); }
 * }
 */
export function cachedMethod<A extends unknown[]>(options: CachedOptions<A>) {
  const { cache, keyPrefix, name, key, batch, ...rest } = checkOptions(options);
  if (batch !== undefined) {
    throw new InvalidArgumentError('batch', 'batching is an option of cached(), not of methods');
  }
  const getOrSetOptions = Object.keys(rest).length > 0 ? rest : undefined;
  return <This, R>(
    method: (this: This, ...args: A) => R | Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R | Promise<R>>,
  ) => {
    const bases = new WeakMap<object, string>();
    const baseOf = (self: This): string => {
      const owner = (context.static ? self : (self as object).constructor) as { name?: string };
      let base = bases.get(owner);
      if (base === undefined) {
        base = keyBase(keyPrefix, name ?? `${owner.name ?? ''}.${String(context.name)}`);
        bases.set(owner, base);
      }
      return base;
    };
    return function (this: This, ...args: A): Promise<Awaited<R>> {
      return call(cache, baseOf(this), key, args, () => method.apply(this, args), getOrSetOptions);
    };
  };
}

/**
 * Read-through: returns a `get(id)` whose misses are loaded by `loader(id)` and cached under
 * `id` in `cache` (use a namespace to prefix the ids).
 *
 * @example
 * const getUser = readThrough(cache.namespace('user'), (id) => db.users.find(id), { ttl: '10m' });
 * await getUser('123'); // key 'user:123'
 */
export function readThrough<T>(
  cache: Cache,
  loader: (key: string) => T | Promise<T>,
  options?: GetOrSetOptions,
): (key: string) => Promise<T> {
  if (typeof loader !== 'function') {
    throw new InvalidArgumentError('loader', `expected a function, got ${typeof loader}`);
  }
  return (key) => cache.getOrSet(key, () => loader(key), options);
}

function checkOptions<O extends CachedOptions<any>>(options: O): O {
  if (
    options === null ||
    typeof options !== 'object' ||
    typeof options.cache?.getOrSet !== 'function'
  ) {
    throw new InvalidArgumentError(
      'cache',
      'expected options with a cache created by createCache()',
    );
  }
  return options;
}

// Key bases taken by functions named after themselves, per cache: two functions of one name
// would otherwise share keys and answer each other's calls.
const claimed = new WeakMap<Cache, Map<string, WeakRef<Function>>>();

function claim(cache: Cache, base: string, fn: Function): void {
  let bases = claimed.get(cache);
  if (bases === undefined) {
    bases = new Map();
    claimed.set(cache, bases);
  }
  const owner = bases.get(base)?.deref();
  if (owner !== undefined && owner !== fn) {
    throw new InvalidArgumentError(
      'name',
      `another function named "${fn.name}" already caches its results under "${base}" on this cache; give one of them a keyPrefix or a name`,
    );
  }
  bases.set(base, new WeakRef(fn));
}

// The name is one segment of the key, so it may not hold the `:` that separates segments (the
// prefix may): `a:b` + `c` and `a` + `b:c` would share keys.
function keyBase(keyPrefix: string | undefined, name: string): string {
  if (typeof name !== 'string' || name === '' || name === '.') {
    throw new InvalidArgumentError('name', 'an anonymous function needs the name option');
  }
  if (name.includes(':')) {
    throw new InvalidArgumentError('name', `"${name}" holds ":", which separates key segments`);
  }
  return keyPrefix ? `${keyPrefix}:${name}:` : `${name}:`;
}

function call<A extends unknown[], R>(
  cache: Cache,
  base: string,
  key: ((...args: A) => string) | undefined,
  args: A,
  run: () => R | Promise<R>,
  options: GetOrSetOptions | undefined,
): Promise<Awaited<R>> {
  let fullKey: string;
  try {
    fullKey = base + argsKey(key, args);
  } catch (error) {
    return Promise.reject(error);
  }
  return cache.getOrSet<Awaited<R>>(fullKey, run as () => Awaited<R>, options);
}

function argsKey<A extends unknown[]>(key: ((...args: A) => string) | undefined, args: A): string {
  if (key !== undefined) return key(...args);
  const encoded = stableEncode(args, 'args');
  return encoded.length > MAX_ENCODED_ARGS ? `#${hashKey(encoded)}` : encoded;
}

// The calls of one tick, by key: their arguments and their callers.
type Tick<A> = Map<
  string,
  { args: A; waiters: { resolve: (v: unknown) => void; reject: (e: unknown) => void }[] }
>;

// A function whose calls of one tick are read with one getOrSetMany, the misses loaded by one
// call of `batch`.
function batched<A extends unknown[]>(
  cache: Cache,
  keyOf: (args: A) => string,
  batch: (calls: A[]) => Promise<readonly unknown[]>,
  options: GetOrSetOptions | undefined,
): (...args: A) => Promise<unknown> {
  let tick: Tick<A> | undefined;
  const flush = (calls: Tick<A>) => {
    cache
      .getOrSetMany(
        [...calls.keys()],
        async (missing) => batch(missing.map((k) => calls.get(k)!.args)),
        options,
      )
      .then(
        (results) => {
          let i = 0;
          for (const { waiters } of calls.values()) {
            const result = results[i++]!;
            for (const { resolve, reject } of waiters) {
              if (result.status === 'fulfilled') resolve(result.value);
              else reject(result.reason);
            }
          }
        },
        (error: unknown) => {
          for (const { waiters } of calls.values()) for (const { reject } of waiters) reject(error);
        },
      );
  };
  return (...args: A) =>
    new Promise((resolve, reject) => {
      let fullKey: string;
      try {
        fullKey = keyOf(args);
      } catch (error) {
        reject(error);
        return;
      }
      if (tick === undefined) {
        const calls: Tick<A> = new Map();
        tick = calls;
        process.nextTick(() => {
          tick = undefined;
          flush(calls);
        });
      }
      const call = tick.get(fullKey);
      if (call === undefined) tick.set(fullKey, { args, waiters: [{ resolve, reject }] });
      else call.waiters.push({ resolve, reject });
    });
}
