import fc from 'fast-check';
import { vi } from 'vitest';
import {
  type Cache,
  type CacheEntry,
  type CacheStore,
  createCache,
  globToRegExp,
  type InvalidationMessage,
} from '../../src/index.js';

// The model: random operations on a createCache over a store whose every answer, every loader
// and every persist function completes when fast-check's scheduler says so. Only scheduled
// points interleave: between two of them every microtask chain runs to its end. The clock is
// fake and moves only by `advance` operations, so expiry, grace and hard timeouts are explored
// as orderings too.

export const KEYS = ['u:1', 'u:2', 'p:1'] as const;
export const PATTERNS = ['u:*', '*:1'] as const;
export const TAGS = ['red', 'blue'] as const;
export const TTL = 1_000;
/** How far `advance` moves the clock: within the TTL, past it (within grace), past grace. */
export const STEPS = [400, 1_100, 2_500] as const;

export type Key = (typeof KEYS)[number];
/** The cache's own records (tag records): clear(prefix) and deletePattern never remove them. */
const RESERVED = '__cache:';
export type Tag = (typeof TAGS)[number];
export type Outcome = 'ok' | 'throw' | 'hang';

export type Op =
  | { kind: 'get'; key: Key }
  | { kind: 'getMany'; keys: Key[] }
  | { kind: 'set'; key: Key; tags: Tag[] }
  | { kind: 'setMany'; items: { key: Key; tags: Tag[] }[] }
  | { kind: 'delete'; key: Key; soft?: boolean }
  | { kind: 'deleteMany'; keys: Key[]; soft?: boolean }
  | { kind: 'clear'; soft?: boolean }
  | { kind: 'deletePattern'; pattern: string }
  | { kind: 'invalidateTags'; tags: Tag[]; soft?: boolean }
  | { kind: 'getOrSet'; key: Key; tags: Tag[]; loader: Outcome; force: boolean }
  | { kind: 'getOrSetMany'; keys: Key[]; tags: Tag[]; loader: Outcome }
  | { kind: 'writeThrough'; key: Key; persist: 'ok' | 'throw' }
  | { kind: 'relay'; message: InvalidationMessage }
  | { kind: 'advance'; ms: number };

export interface Config {
  /** Grace of every entry (ms), or false. */
  grace: number | false;
  /** Hard loader timeout (ms), or none. */
  hard: number | undefined;
  /** Refresh-ahead threshold (a fraction of the TTL), or none. */
  refresh?: number | undefined;
  /** The store answers `get` synchronously (an L1 in process): the fast path of `getOrSet`. */
  syncReads?: boolean;
  /** The store has `expire` and `expirePrefix` (soft invalidation); else it deletes. @default true */
  storeExpire?: boolean;
}

// Most operations touch one key, so that they meet.
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Key>('u:1') },
  { weight: 1, arbitrary: fc.constant<Key>('u:2') },
  { weight: 1, arbitrary: fc.constant<Key>('p:1') },
);
const keys = fc.uniqueArray(key, { minLength: 1, maxLength: 2 });
const tags = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Tag[]>([]) },
  { weight: 1, arbitrary: fc.subarray([...TAGS], { minLength: 1 }) },
);
// An invalidation in mode 'expire' (soft) one time in three.
const soft = fc.constantFrom(false, false, true);

/** How often each operation is drawn, and how often a loader throws or hangs (`ok` weighs 3). */
export type Weights = Record<Op['kind'] | 'throw' | 'hang', number>;

export const WEIGHTS: Weights = {
  get: 3,
  getMany: 1,
  set: 3,
  setMany: 1,
  delete: 2,
  deleteMany: 1,
  clear: 1,
  deletePattern: 1,
  invalidateTags: 1,
  getOrSet: 5,
  getOrSetMany: 2,
  writeThrough: 2,
  relay: 1,
  advance: 2,
  throw: 2,
  hang: 0,
};

/** The operations of a program; `hang` loaders only where a hard timeout ends the wait. */
export function opArb(weights: Partial<Weights> = {}): fc.Arbitrary<Op> {
  const w = { ...WEIGHTS, ...weights };
  const loader = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Outcome>('ok') },
    { weight: w.throw, arbitrary: fc.constant<Outcome>('throw') },
    { weight: w.hang, arbitrary: fc.constant<Outcome>('hang') },
  );
  return fc.oneof(
    { weight: w.get, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
    { weight: w.getMany, arbitrary: fc.record({ kind: fc.constant('getMany' as const), keys }) },
    { weight: w.set, arbitrary: fc.record({ kind: fc.constant('set' as const), key, tags }) },
    {
      weight: w.setMany,
      arbitrary: fc.record({
        kind: fc.constant('setMany' as const),
        items: fc.uniqueArray(fc.record({ key, tags }), {
          minLength: 1,
          maxLength: 2,
          selector: (item) => item.key,
        }),
      }),
    },
    {
      weight: w.delete,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), key, soft }),
    },
    {
      weight: w.deleteMany,
      arbitrary: fc.record({ kind: fc.constant('deleteMany' as const), keys, soft }),
    },
    { weight: w.clear, arbitrary: fc.record({ kind: fc.constant('clear' as const), soft }) },
    {
      weight: w.deletePattern,
      arbitrary: fc.record({
        kind: fc.constant('deletePattern' as const),
        pattern: fc.constantFrom(...PATTERNS),
      }),
    },
    {
      weight: w.invalidateTags,
      arbitrary: fc.record({
        kind: fc.constant('invalidateTags' as const),
        tags: fc.subarray([...TAGS], { minLength: 1 }),
        soft,
      }),
    },
    {
      weight: w.getOrSet,
      arbitrary: fc.record({
        kind: fc.constant('getOrSet' as const),
        key,
        tags,
        loader,
        // A forced load, now and then: it loads past a fresh value and falls back on it.
        force: fc.constantFrom(false, false, false, true),
      }),
    },
    {
      weight: w.getOrSetMany,
      arbitrary: fc.record({ kind: fc.constant('getOrSetMany' as const), keys, tags, loader }),
    },
    {
      weight: w.writeThrough,
      arbitrary: fc.record({
        kind: fc.constant('writeThrough' as const),
        key,
        persist: fc.constantFrom<('ok' | 'throw')[]>('ok', 'ok', 'ok', 'throw'),
      }),
    },
    {
      weight: w.relay,
      arbitrary: fc.record({
        kind: fc.constant('relay' as const),
        message: fc.oneof(
          keys.map((ks): InvalidationMessage => ({ type: 'delete', keys: ks })),
          keys.map((ks): InvalidationMessage => ({ type: 'delete', keys: ks, mode: 'expire' })),
          fc.constant<InvalidationMessage>({ type: 'clear' }),
          fc.constant<InvalidationMessage>({ type: 'clear', mode: 'expire' }),
          fc
            .constantFrom(...PATTERNS)
            .map((pattern): InvalidationMessage => ({ type: 'pattern', pattern })),
        ),
      }),
    },
    {
      weight: w.advance,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        // Past the TTL within grace most often: where stale values are served and written back.
        ms: fc.constantFrom(STEPS[0], STEPS[1], STEPS[1], STEPS[2]),
      }),
    },
  );
}

/** Refresh-ahead past 30% of the TTL: a hit after one 400 ms step refreshes. */
export const refreshArb = fc.constantFrom<(number | undefined)[]>(undefined, 0.3);

export const configArb: fc.Arbitrary<Config> = fc.record({
  grace: fc.constantFrom<(number | false)[]>(false, 2_000),
  hard: fc.constantFrom<(number | undefined)[]>(undefined, 1_500),
  refresh: refreshArb,
  syncReads: fc.boolean(),
  storeExpire: fc.constantFrom(true, true, false),
});

// ---------------------------------------------------------------------------------------------
// The history

/** One call of the cache's API, or a relayed invalidation, or a move of the clock. */
export interface OpRecord {
  readonly id: number;
  readonly op: Op;
  readonly call: number;
  readonly callWall: number;
  ret?: number;
  retWall?: number;
  status: 'pending' | 'ok' | 'error';
  /** What it resolved: a token, an array of tokens, a boolean, a count. */
  result?: unknown;
  error?: string;
  errorName?: string;
  /** Tokens written: set, setMany, writeThrough (by key). */
  writes?: Map<Key, string>;
  /** writeThrough: when its persist function resolved (the database write is known done). */
  persisted?: number;
}

/** One loader call. Its value, if any, is a token whose origin is `start`. */
export interface LoaderRecord {
  readonly id: number;
  /** The getOrSet whose loader ran (the caller that started the flight). */
  readonly opId: number;
  readonly key: Key;
  readonly tags: Tag[];
  readonly outcome: Outcome;
  readonly start: number;
  readonly startWall: number;
  end?: number;
  /** When its signal was aborted (hard timeout): nobody waits for it any more. */
  aborted?: number;
  token?: string;
}

/** Where a value came from. Tokens are unique, so each value names its origin. */
export interface Origin {
  readonly token: string;
  readonly key: Key;
  readonly kind: 'set' | 'setMany' | 'writeThrough' | 'loader';
  /** The op (set, setMany, writeThrough) or the loader record that produced it. */
  readonly source: number;
  readonly tags: Tag[];
  /**
   * When the value may have been read from its source: a set's call, a loader's start, the end of
   * a writeThrough's persist (the database held it from some time before then).
   */
  start: number;
}

/** An entry as the store first received it for a token, and each later write of the same token. */
export interface StoreWrite {
  readonly tick: number;
  readonly wall: number;
  readonly key: string;
  readonly entry: CacheEntry;
}

export interface StaleEvent {
  readonly tick: number;
  readonly wall: number;
  readonly key: string;
  readonly reason: string;
  readonly entry: CacheEntry;
}

export interface History {
  readonly config: Config;
  readonly ops: OpRecord[];
  readonly loaders: LoaderRecord[];
  readonly origins: Map<string, Origin>;
  /** Every store write of a token, in order. */
  readonly storeWrites: StoreWrite[];
  readonly staleEvents: StaleEvent[];
  /** The store's contents once everything settled (and `flush()` resolved, where it exists). */
  readonly final: Map<string, CacheEntry>;
  /** The last tick and wall time. */
  readonly end: number;
  readonly endWall: number;
  /** Unhandled problems of the run itself (a callback that threw). */
  readonly problems: string[];
}

/** A logical clock: every recorded event takes the next tick. */
class Ticks {
  #n = 0;
  next(): number {
    return ++this.#n;
  }
}

// ---------------------------------------------------------------------------------------------
// The store

/**
 * A Map-backed store answering through the scheduler. Each operation takes effect when called
 * (a linearizable store that applies commands in the order received, like a single connection
 * to Redis), and its answer is delivered whenever the scheduler picks it, so answers overtake
 * one another. Expired entries are dropped when read, as the contract says.
 */
export class ModelStore implements CacheStore {
  readonly name = 'model';
  readonly data = new Map<string, CacheEntry>();
  readonly listeners = new Set<(message: InvalidationMessage) => void>();
  readonly expire?: (keys: string[]) => Promise<number>;
  readonly expirePrefix?: (prefix: string) => Promise<void>;

  constructor(
    readonly s: fc.Scheduler,
    readonly onWrite: (key: string, entry: CacheEntry) => void,
    readonly syncReads = false,
    withExpire = true,
  ) {
    if (!withExpire) return;
    this.expire = (keys) =>
      this.#answer(`store.expire(${keys.join(',')})`, keys.filter((k) => this.#expire(k)).length);
    this.expirePrefix = (prefix) => {
      this.#expirePrefix(prefix);
      return this.#answer(`store.expirePrefix(${prefix})`, undefined);
    };
  }

  // Soft invalidation: the entry kept as a grace fallback only (expiresAt 0), or dropped.
  #expire(key: string): boolean {
    const entry = this.#read(key);
    if (entry === undefined) return false;
    if (entry.staleUntil === undefined) this.data.delete(key);
    else this.data.set(key, { ...entry, expiresAt: 0 });
    return true;
  }

  #expirePrefix(prefix: string): void {
    for (const k of [...this.data.keys()]) {
      if (k.startsWith(prefix) && !k.startsWith(RESERVED)) this.#expire(k);
    }
  }

  #answer<T>(label: string, value: T): Promise<T> {
    return this.s.schedule(Promise.resolve(value), label);
  }

  #read(key: string): CacheEntry | undefined {
    const entry = this.data.get(key);
    if (entry === undefined) return undefined;
    if ((entry.staleUntil ?? entry.expiresAt) <= Date.now()) {
      this.data.delete(key);
      return undefined;
    }
    return entry;
  }

  #write(key: string, entry: CacheEntry): void {
    // Stores copy what they keep (memory with clone, Redis): the cache must not change it later.
    this.data.set(key, { ...entry });
    this.onWrite(key, entry);
  }

  get(key: string) {
    if (this.syncReads) return this.#read(key);
    return this.#answer(`store.get(${key})`, this.#read(key));
  }

  getMany(keys: string[]) {
    return this.#answer(
      `store.getMany(${keys.join(',')})`,
      keys.map((k) => this.#read(k)),
    );
  }

  set(key: string, entry: CacheEntry) {
    this.#write(key, entry);
    return this.#answer(`store.set(${key},${String(entry.value)})`, undefined);
  }

  setMany(entries: [string, CacheEntry][]) {
    for (const [k, e] of entries) this.#write(k, e);
    return this.#answer(`store.setMany(${entries.map(([k]) => k).join(',')})`, undefined);
  }

  delete(key: string) {
    return this.#answer(`store.delete(${key})`, this.data.delete(key));
  }

  deleteMany(keys: string[]) {
    const count = keys.filter((k) => this.data.delete(k)).length;
    return this.#answer(`store.deleteMany(${keys.join(',')})`, count);
  }

  clear(prefix?: string) {
    this.#clear(prefix);
    return this.#answer(`store.clear(${prefix ?? ''})`, undefined);
  }

  #clear(prefix: string | undefined): void {
    for (const k of [...this.data.keys()]) {
      if (!prefix || (k.startsWith(prefix) && !k.startsWith(RESERVED))) this.data.delete(k);
    }
  }

  deletePattern(pattern: string) {
    return this.#answer(`store.deletePattern(${pattern})`, this.#deletePattern(pattern));
  }

  #deletePattern(pattern: string): number {
    const re = globToRegExp(pattern);
    let count = 0;
    for (const k of [...this.data.keys()]) {
      if (re.test(k) && !k.startsWith(RESERVED) && this.data.delete(k)) count++;
    }
    return count;
  }

  subscribe(listener: (message: InvalidationMessage) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * An invalidation made by another process sharing this store: its effect on the shared data is
   * already there (as a multilevel store drops its L1 copy before telling the cache), then the
   * listeners hear of it.
   */
  receive(message: InvalidationMessage): void {
    const soft = message.mode === 'expire' && this.expire !== undefined;
    if (message.type === 'delete') {
      for (const k of message.keys ?? []) {
        if (soft) this.#expire(k);
        else this.data.delete(k);
      }
    } else if (message.type === 'clear' && soft) this.#expirePrefix(message.prefix ?? '');
    else if (message.type === 'clear') this.#clear(message.prefix);
    else if (message.type === 'pattern' && message.pattern !== undefined) {
      this.#deletePattern(message.pattern);
    }
    for (const listener of this.listeners) listener(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Running a program

/** Lets every pending microtask chain run to its end (setImmediate stays real under our fakes). */
const quiesce = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs scheduled tasks one at a time until none is left and `until` (if given) has settled. */
export async function drain(s: fc.Scheduler, until?: Promise<unknown>): Promise<void> {
  let settled = until === undefined;
  until?.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (;;) {
    await quiesce();
    if (s.count() === 0) {
      if (settled) return;
      // Waiting on something no scheduled task leads to: give up rather than spin.
      await quiesce();
      if (s.count() === 0) return;
    }
    await s.waitNext(1);
  }
}

let epoch = Date.UTC(2030, 0, 1);

/** The fake timers a run uses: the clock and timeouts, never setImmediate (used to quiesce). */
export function useModelClock(): number {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
  // Each run starts later than the last, so the process-wide monotonic stamps of tags stay near
  // the fake clock.
  epoch += 10_000_000;
  vi.setSystemTime(epoch);
  return epoch;
}

/**
 * Runs `program` on a fresh cache over a fresh {@link ModelStore}: each op starts when the
 * scheduler picks the next step of the sequence, then everything is run until idle, `flush()` is
 * awaited where the cache has it, and the history is returned. Call inside fake timers
 * ({@link useModelClock}).
 */
export async function runModel(
  s: fc.Scheduler,
  program: Op[],
  config: Config,
  options: { finalAdvance?: number } = {},
): Promise<History> {
  const ticks = new Ticks();
  const ops: OpRecord[] = [];
  const loaders: LoaderRecord[] = [];
  const origins = new Map<string, Origin>();
  const storeWrites: StoreWrite[] = [];
  const staleEvents: StaleEvent[] = [];
  const problems: string[] = [];
  let tokens = 0;
  const token = () => `v${++tokens}`;

  const store = new ModelStore(
    s,
    (k, entry) =>
      storeWrites.push({ tick: ticks.next(), wall: Date.now(), key: k, entry: { ...entry } }),
    config.syncReads,
    config.storeExpire ?? true,
  );
  const cache: Cache = createCache({
    store,
    ttl: TTL,
    grace: config.grace,
    // No faults in this model: a store answer is late in fake time, never lost.
    storeTimeout: false,
    circuitBreaker: false,
    ...(config.hard === undefined ? {} : { timeouts: { hard: config.hard } }),
    ...(config.refresh === undefined ? {} : { refresh: { ahead: config.refresh } }),
  });
  cache.on('stale', ({ key: k, reason, entry }) =>
    staleEvents.push({ tick: ticks.next(), wall: Date.now(), key: k, reason, entry: { ...entry } }),
  );

  const record = (op: Op, promise: () => Promise<unknown>, rec?: Partial<OpRecord>) => {
    const r: OpRecord = {
      id: ops.length,
      op,
      call: ticks.next(),
      callWall: Date.now(),
      status: 'pending',
      ...rec,
    };
    ops.push(r);
    let p: Promise<unknown>;
    try {
      p = promise();
    } catch (error) {
      p = Promise.reject(error);
    }
    p.then(
      (result) => {
        r.ret = ticks.next();
        r.retWall = Date.now();
        r.status = 'ok';
        r.result = result;
      },
      (error: unknown) => {
        r.ret = ticks.next();
        r.retWall = Date.now();
        r.status = 'error';
        r.errorName = error instanceof Error ? error.name : typeof error;
        r.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      },
    );
    return r;
  };

  const instant = (op: Op, work: () => void) => {
    const r: OpRecord = {
      id: ops.length,
      op,
      call: ticks.next(),
      callWall: Date.now(),
      status: 'pending',
    };
    ops.push(r);
    work();
    r.ret = ticks.next();
    r.retWall = Date.now();
    r.status = 'ok';
  };

  // A loader call of `key` for op `opId` begins, and later returns token `t`.
  const loadStarts = (opId: number, key: Key, tags: Tag[], outcome: Outcome): LoaderRecord => {
    const l: LoaderRecord = {
      id: loaders.length,
      opId,
      key,
      tags,
      outcome,
      start: ticks.next(),
      startWall: Date.now(),
    };
    loaders.push(l);
    return l;
  };
  const loadReturns = (l: LoaderRecord, t: string): string => {
    l.token = t;
    origins.set(t, {
      token: t,
      key: l.key,
      kind: 'loader',
      source: l.id,
      tags: l.tags,
      start: l.start,
    });
    return t;
  };

  const start = (op: Op): void => {
    switch (op.kind) {
      case 'get':
        record(op, () => cache.get(op.key));
        return;
      case 'getMany':
        record(op, () => cache.getMany(op.keys));
        return;
      case 'set': {
        const t = token();
        const r = record(op, () => cache.set(op.key, t, { tags: op.tags }), {
          writes: new Map([[op.key, t]]),
        });
        origins.set(t, {
          token: t,
          key: op.key,
          kind: 'set',
          source: r.id,
          tags: op.tags,
          start: r.call,
        });
        return;
      }
      case 'setMany': {
        const items = op.items.map((item) => ({ ...item, token: token() }));
        const r = record(
          op,
          () => cache.setMany(items.map((i) => [i.key, i.token, { tags: i.tags }])),
          { writes: new Map(items.map((i) => [i.key, i.token])) },
        );
        for (const i of items) {
          origins.set(i.token, {
            token: i.token,
            key: i.key,
            kind: 'setMany',
            source: r.id,
            tags: i.tags,
            start: r.call,
          });
        }
        return;
      }
      case 'writeThrough': {
        const t = token();
        let self: OpRecord | undefined;
        const origin: Origin = {
          token: t,
          key: op.key,
          kind: 'writeThrough',
          source: ops.length,
          tags: [],
          start: Number.POSITIVE_INFINITY,
        };
        origins.set(t, origin);
        const persist = async () => {
          await s.schedule(Promise.resolve(), `persist(${op.key},${t})`);
          const at = ticks.next();
          if (self !== undefined) self.persisted = at;
          origin.start = at;
          if (op.persist === 'throw') throw new Error(`persist ${t} failed`);
          return t;
        };
        self = record(op, () => cache.writeThrough(op.key, t, persist), {
          writes: new Map([[op.key, t]]),
        });
        return;
      }
      case 'getOrSet': {
        const opId = ops.length;
        record(op, () =>
          cache.getOrSet(
            op.key,
            async (ctx) => {
              const l = loadStarts(opId, op.key, op.tags, op.loader);
              ctx.signal.addEventListener('abort', () => {
                l.aborted ??= ticks.next();
              });
              const t = token();
              if (op.loader === 'hang') await new Promise(() => {});
              await s.schedule(
                Promise.resolve(),
                `loader#${l.id}(${op.key})->${op.loader === 'ok' ? t : 'throw'}`,
              );
              l.end = ticks.next();
              if (op.loader === 'throw') throw new Error(`loader#${l.id} failed`);
              return loadReturns(l, t);
            },
            op.force ? { tags: op.tags, forceFresh: true } : { tags: op.tags },
          ),
        );
        return;
      }
      case 'getOrSetMany': {
        const opId = ops.length;
        // One loader record per key the batch loads, all starting and ending together.
        record(op, () =>
          cache.getOrSetMany(
            op.keys,
            async (missing, context) => {
              const batch = missing.map((k) => {
                const l = loadStarts(opId, k as Key, op.tags, op.loader);
                context.of(k).signal.addEventListener('abort', () => {
                  l.aborted ??= ticks.next();
                });
                return l;
              });
              if (op.loader === 'hang') await new Promise(() => {});
              await s.schedule(
                Promise.resolve(),
                `batch loader(${missing.join(',')})->${op.loader === 'ok' ? 'values' : 'throw'}`,
              );
              const end = ticks.next();
              for (const l of batch) l.end = end;
              if (op.loader === 'throw') throw new Error(`batch of #${opId} failed`);
              return batch.map((l) => loadReturns(l, token()));
            },
            { tags: op.tags },
          ),
        );
        return;
      }
      case 'delete':
        record(op, () => cache.delete(op.key, modeOf(op)));
        return;
      case 'deleteMany':
        record(op, () => cache.deleteMany(op.keys, modeOf(op)));
        return;
      case 'clear':
        record(op, () => cache.clear(modeOf(op)));
        return;
      case 'deletePattern':
        record(op, () => cache.deletePattern(op.pattern));
        return;
      case 'invalidateTags':
        record(op, () => cache.invalidateTags(op.tags, modeOf(op)));
        return;
      case 'relay':
        // Delivered at once: the call and its settling are one moment.
        instant(op, () => store.receive(op.message));
        return;
      case 'advance':
        // Timers due meanwhile (hard timeouts) fire inside it.
        instant(op, () => vi.advanceTimersByTime(op.ms));
        return;
    }
  };

  const sequence = s.scheduleSequence(
    program.map((op, i) => ({
      label: `#${i} ${describeOp(op)}`,
      builder: async () => {
        try {
          start(op);
        } catch (error) {
          problems.push(`starting #${i} threw ${String(error)}`);
        }
      },
    })),
  );
  await drain(s, sequence.task);
  // Hung loaders end only by their timers: move the clock once everything else is done.
  for (let i = 0; options.finalAdvance !== undefined && i < 3; i++) {
    if (!ops.some((r) => r.status === 'pending')) break;
    const ms = options.finalAdvance;
    instant({ kind: 'advance', ms }, () => vi.advanceTimersByTime(ms));
    await drain(s);
  }
  const flush = (cache as Cache & { flush?: () => Promise<unknown> }).flush;
  if (typeof flush === 'function') await drain(s, flush.call(cache));
  await drain(s);

  return {
    config,
    ops,
    loaders,
    origins,
    storeWrites,
    staleEvents,
    final: new Map(store.data),
    end: ticks.next(),
    endWall: Date.now(),
    problems,
  };
}

// The options of an invalidation: soft ones in mode 'expire'.
function modeOf(op: { soft?: boolean }) {
  return op.soft ? { mode: 'expire' as const } : undefined;
}

export function describeOp(op: Op): string {
  const soft = 'soft' in op && op.soft ? ", mode 'expire'" : '';
  switch (op.kind) {
    case 'get':
      return `${op.kind}(${op.key})`;
    case 'delete':
      return `${op.kind}(${op.key}${soft})`;
    case 'getMany':
      return `${op.kind}(${op.keys.join(',')})`;
    case 'deleteMany':
      return `${op.kind}(${op.keys.join(',')}${soft})`;
    case 'set':
      return `set(${op.key}${op.tags.length ? ` tags=${op.tags.join('+')}` : ''})`;
    case 'setMany':
      return `setMany(${op.items.map((i) => i.key + (i.tags.length ? `[${i.tags.join('+')}]` : '')).join(',')})`;
    case 'clear':
      return `clear(${soft.slice(2)})`;
    case 'deletePattern':
      return `deletePattern(${op.pattern})`;
    case 'invalidateTags':
      return `invalidateTags(${op.tags.join(',')}${soft})`;
    case 'getOrSet':
      return `getOrSet(${op.key}${op.tags.length ? ` tags=${op.tags.join('+')}` : ''}, loader ${op.loader}${op.force ? ', forceFresh' : ''})`;
    case 'getOrSetMany':
      return `getOrSetMany(${op.keys.join(',')}${op.tags.length ? ` tags=${op.tags.join('+')}` : ''}, loader ${op.loader})`;
    case 'writeThrough':
      return `writeThrough(${op.key}, persist ${op.persist})`;
    case 'relay':
      return `relay(${JSON.stringify(op.message)})`;
    case 'advance':
      return `advance(${op.ms}ms)`;
  }
}
