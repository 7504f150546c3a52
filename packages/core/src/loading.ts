import type { Supersedable } from './batch.js';
import { channels, isTraced, traced } from './channels.js';
import { parseTtl } from './duration.js';
import type { Engine } from './engine.js';
import { buildEntry, freshness, graceEnd } from './entry.js';
import { LoaderCycleError, LoaderError, LoaderTimeoutError, LockLostError } from './errors.js';
import type { StaleReason } from './events.js';
import type { Flight } from './flights.js';
import { Lease } from './lease.js';
import type { GetOrSetOptions, Loader, LoaderContext } from './options.js';
import { type Plan, refreshLead, resolvePlan } from './policy.js';
import { FAILED } from './storeGateway.js';
import { checkTags } from './tags.js';
import { answer, type Outcome } from './timeouts.js';
import type { CacheEntry, Duration, MaybePromise } from './types.js';

/** Where a `getOrSet` was called from: the namespace's prefix and the tags it adds. */
export interface View {
  readonly prefix: string;
  readonly scopeTags: string[];
}

// A flight of getOrSet: its callers receive an Outcome; the stale entry it may serve, and the
// loader's result bounded by the hard timeout, for callers who come once grace is over; for a
// refresh ahead of expiry, the fresh entry it refreshes, which callers get meanwhile.
type LoadFlight<T> = Flight<Outcome<T>> & {
  stale?: CacheEntry<T>;
  final?: Promise<T>;
  ahead?: CacheEntry<T>;
};

/**
 * The slow path of `getOrSet`, once the fast path found no fresh entry synchronously: joins the
 * key's running flight, or opens one, waits for the store's answer (`found`, read when the call
 * began), and serves it, or loads, answers and stores the loader's result in the background.
 */
export function getOrLoad<T>(
  engine: Engine,
  view: View,
  fullKey: string,
  found: MaybePromise<CacheEntry | undefined>,
  loader: Loader<T>,
  options: GetOrSetOptions | undefined,
): Promise<T> {
  const id = flightId(fullKey, options?.version);
  const now = engine.clock.now();
  const running = engine.flights.join(id, now) as LoadFlight<T> | undefined;
  if (running !== undefined) {
    if (found instanceof Promise) found.catch(() => {});
    // A refresh ahead of expiry runs: the entry it refreshes is fresh, and nothing voided it.
    const ahead = running.ahead;
    if (ahead !== undefined && options?.forceFresh !== true && freshness(ahead, now) === 'fresh') {
      engine.telemetry.hit(fullKey, 'getOrSet');
      return Promise.resolve(ahead.value);
    }
    engine.telemetry.miss(fullKey, 'getOrSet');
    return join(engine, view, running);
  }
  const flight = engine.flights.open<Outcome<T>>(fullKey, id) as LoadFlight<T>;
  return resolve(engine, view, flight, found, engine.tagRecords.cleared, loader, options);
}

async function resolve<T>(
  engine: Engine,
  view: View,
  flight: LoadFlight<T>,
  found: MaybePromise<CacheEntry | undefined>,
  cleared: number,
  loader: Loader<T>,
  options: GetOrSetOptions | undefined,
): Promise<T> {
  const { flights, telemetry } = engine;
  const key = flight.key;
  let entry: CacheEntry<T> | undefined;
  let plan: Plan;
  try {
    plan = resolvePlan(engine.policy, options);
    entry = (await found) as CacheEntry<T> | undefined;
  } catch (error) {
    flights.land(flight);
    throw error;
  }
  if (entry !== undefined) entry = await engine.usable(entry, plan.version, cleared);
  // Read the clock after the tag check, which may have waited for the store.
  const now = engine.clock.now();
  const state = entry === undefined ? 'gone' : freshness(entry, now);
  if (state === 'fresh' && !plan.forceFresh) {
    // One refresh at a time: another caller may have started one (or a load) while this one read.
    if (
      due(entry!, plan, now) &&
      flights.join(flight.id, now) === undefined &&
      !flights.backingOff(key, now)
    ) {
      refresh(engine, view, flight, entry!, loader, plan);
    } else flights.land(flight);
    telemetry.hit(key, 'getOrSet');
    return entry!.value;
  }
  telemetry.miss(key, 'getOrSet');
  // Another caller may have started loading while this one read.
  const running = flights.join(flight.id, now) as LoadFlight<T> | undefined;
  if (running !== undefined) {
    flights.land(flight);
    return join(engine, view, running);
  }
  // A forced load falls back on the cached value, fresh or stale, if it fails.
  const stale = state === 'gone' ? undefined : entry;
  if (
    stale !== undefined &&
    state === 'stale' &&
    !plan.forceFresh &&
    flights.backingOff(key, now)
  ) {
    flights.land(flight);
    served(engine, key, stale, 'backoff');
    return stale.value;
  }
  return fly(engine, view, flight, stale, loader, plan);
}

/** The id callers of `fullKey` join a flight on: the key, and the version asked for. */
export function flightId(fullKey: string, version: number | string | undefined): string {
  return version === undefined ? fullKey : `${fullKey}\u0000${String(version)}`;
}

// Whether a fresh entry is past the refresh-ahead threshold of `plan`.
function due(entry: CacheEntry, plan: Plan, now: number): boolean {
  const lead = refreshLead(plan);
  return lead !== undefined && entry.expiresAt - lead <= now;
}

/**
 * The refresh-ahead of the L1 fast path, which found `entry` fresh (synchronously, this tick):
 * past the threshold, and unless the key is loading or its loader failed lately, starts one
 * background load of the key through a flight opened now, so a mutation voids it as any other.
 */
export function refreshIfDue<T>(
  engine: Engine,
  view: View,
  fullKey: string,
  entry: CacheEntry<T>,
  now: number,
  loader: Loader<T>,
  options: GetOrSetOptions | undefined,
): void {
  let plan: Plan;
  try {
    plan = resolvePlan(engine.policy, options);
  } catch {
    return; // Bad options: the slow path rejects them when the entry is no longer fresh.
  }
  if (!due(entry, plan, now)) return;
  const { flights } = engine;
  const id = flightId(fullKey, plan.version);
  if (flights.join(id, now) !== undefined || flights.backingOff(fullKey, now)) return;
  refresh(
    engine,
    view,
    flights.open<Outcome<T>>(fullKey, id) as LoadFlight<T>,
    entry,
    loader,
    plan,
  );
}

// Loads the key in the background while its fresh entry keeps answering: the entry is the
// flight's fallback, so a failing refresh is reported and backed off, never thrown at anyone.
function refresh<T>(
  engine: Engine,
  view: View,
  flight: LoadFlight<T>,
  entry: CacheEntry<T>,
  loader: Loader<T>,
  plan: Plan,
): void {
  flight.ahead = entry;
  fly(engine, view, flight, entry, loader, plan).catch(() => {});
}

// Starts the one loader call of a key and returns what its first caller receives.
function fly<T>(
  engine: Engine,
  view: View,
  flight: LoadFlight<T>,
  stale: CacheEntry<T> | undefined,
  loader: Loader<T>,
  plan: Plan,
): Promise<T> {
  const { flights, telemetry } = engine;
  const context = new Context<T>(
    flight.key.slice(view.prefix.length),
    stale?.value,
    engine.tagRecords.loadStamp(),
  );
  telemetry.counters.loads++;
  let settle!: { resolve: (outcome: Outcome<T>) => void; reject: (error: unknown) => void };
  const outcome = new Promise<Outcome<T>>((resolve, reject) => {
    settle = { resolve, reject };
  });
  flight.stale = stale;
  // Joinable before the loader runs, so a getOrSet of the key from inside it is seen as a cycle.
  flights.fly(flight, outcome);
  const started = performance.now();
  const loading = load(engine, view, flight, loader, context, plan);
  const done = () => {
    flights.loaded();
    telemetry.loadTimes.add(performance.now() - started);
  };
  loading.then(done, done);
  const answers = answer(loading, stale, plan, {
    now: () => engine.clock.now(),
    loaderFailed: (error) => {
      telemetry.error(error, 'loader', flight.key, false);
      // Serve the stale value for a while instead of calling a failing loader on every request.
      if (plan.graceBackoff > 0 && stale !== undefined) {
        const now = engine.clock.now();
        flights.backOff(flight, Math.min(now + plan.graceBackoff, graceEnd(stale)), now);
      }
    },
    timedOut: (answering) => {
      const error = new LoaderTimeoutError(context.key, plan.hard!);
      context.abort(error);
      if (answering) telemetry.counters.loadErrors++;
      flights.detach(flight);
      return error;
    },
  });
  flight.final = answers.final;
  answers.first.then(settle.resolve, settle.reject);
  return outcome.then((first) => deliver(engine, flight, first));
}

// What a caller who joined a running flight receives.
function join<T>(engine: Engine, view: View, flight: LoadFlight<T>): Promise<T> {
  if (flight.calling) {
    return Promise.reject(new LoaderCycleError(flight.key.slice(view.prefix.length)));
  }
  return flight.promise!.then((outcome) => deliver(engine, flight, outcome));
}

// Each caller's share of an outcome: a stale value is counted and reported per caller, and only
// while within grace, checked now: past it, a caller waits for the loader after a soft timeout,
// or gets the error the stale value stood in for.
function deliver<T>(engine: Engine, flight: LoadFlight<T>, outcome: Outcome<T>): T | Promise<T> {
  if (outcome.stale === undefined) return outcome.value;
  const stale = flight.stale!;
  const state = freshness(stale, engine.clock.now());
  // A fallback still fresh (a forced load or a refresh that failed) is no stale value.
  if (state === 'fresh') return outcome.value;
  if (state !== 'stale') {
    if (outcome.stale === 'soft-timeout') return flight.final!;
    throw outcome.error;
  }
  served(engine, flight.key, stale, outcome.stale);
  return outcome.value;
}

function served(engine: Engine, key: string, stale: CacheEntry, reason: StaleReason): void {
  engine.telemetry.stale(key, reason, stale);
}

// Runs the loader (under the shared lock, if any) and stores what it returns in the background.
async function load<T>(
  engine: Engine,
  view: View,
  flight: LoadFlight<T>,
  loader: Loader<T>,
  context: Context<T>,
  plan: Plan,
): Promise<T> {
  const { flights, telemetry, gateway } = engine;
  const key = flight.key;
  let lease: Lease | undefined;
  const ahead = flight.ahead;
  if (plan.lock) {
    try {
      // A refresh ahead of expiry only tries the lock: another process holding it refreshes.
      const handle = await plan.lock.acquire(key, {
        ttl: plan.lockTtl,
        timeout: ahead === undefined ? plan.lockTimeout : 0,
        signal: context.signal,
      });
      if (handle === undefined && ahead !== undefined) {
        flights.land(flight);
        return ahead.value;
      }
      if (handle !== undefined) {
        const maxHold = plan.hard ?? plan.lockTimeout;
        lease = new Lease(
          handle,
          plan.lockTtl,
          maxHold,
          (error) => telemetry.error(error, 'lock', key, false),
          key,
        );
        context.lease = lease;
        if (context.aborted) lease.stopRenewing(); // the hard timeout fired during acquire
      }
    } catch (error) {
      telemetry.error(error, 'lock', key, false);
    }
    // Another process may have loaded the key while this one waited for the lock.
    let loaded: CacheEntry | undefined;
    try {
      const cleared = engine.tagRecords.cleared;
      loaded = await engine.fresh(key, await gateway.get(key), plan.version, cleared, false);
    } catch (error) {
      lease?.release();
      flights.land(flight);
      throw error;
    }
    // A refresh goes on unless another process refreshed the entry meanwhile.
    if (loaded !== undefined && !(ahead !== undefined && due(loaded, plan, engine.clock.now()))) {
      lease?.release();
      flights.land(flight);
      return loaded.value as T;
    }
  }
  // A load that a mutation voided (or a tag invalidation made unjoinable) before its loader ran
  // leaves the key to a newer load instead of running beside it: a refresh's callers have their
  // value, and the callers of another join the newer load, which started after them. A voided
  // refresh loads for nobody (its result would not be stored) even alone. A batch loader checks
  // again when its call goes out (see Batch).
  const superseded = (): Promise<T> | undefined => {
    if (!flight.voided && flight.suspect === undefined) return undefined;
    const newer = flights.join(flight.id, engine.clock.now()) as LoadFlight<T> | undefined;
    if (newer !== undefined) {
      return ahead !== undefined ? Promise.resolve(ahead.value) : join(engine, view, newer);
    }
    return flight.voided && ahead !== undefined ? Promise.resolve(ahead.value) : undefined;
  };
  const instead = superseded();
  if (instead !== undefined) {
    lease?.release();
    flights.land(flight);
    return instead;
  }
  context.superseded = superseded;
  // The loader reads its source from now on: a store that keeps fences refuses the value if
  // another process invalidated the key after this moment.
  const since = performance.timeOrigin + performance.now();
  let value: T;
  try {
    flight.calling = true;
    let result: T | Promise<T>;
    try {
      result = isTraced(channels.load)
        ? (traced(channels.load, { key, store: gateway.store.name }, () => loader(context)) as
            | T
            | Promise<T>)
        : loader(context);
    } finally {
      flight.calling = false;
    }
    value = await result;
  } catch (error) {
    telemetry.counters.loadErrors++;
    lease?.release();
    flights.land(flight);
    throw new LoaderError(context.key, error);
  }
  const entry = context.skipped ? undefined : entryOf(engine, view, value, plan, context);
  if (entry === undefined) {
    lease?.release();
    flights.land(flight);
    return value;
  }
  flight.freshUntil = entry.expiresAt;
  const store = () =>
    flights.commit(flight, entry.tags, () =>
      gateway.write('set', key, (target) => target.set(key, entry, { since })),
    );
  let failed = false;
  const done = (write: ReturnType<typeof store>) =>
    write?.then((result) => {
      if (result !== FAILED) written(engine, key, entry);
      else failed = true;
    });
  // The caller has its value now; the flight stays joinable (and the lock held) until stored.
  // Under a lock, the lease is checked first: a holder that lost it leaves the key to the next.
  const stored =
    lease === undefined
      ? done(store())
      : lease.confirm().then((held) => {
          if (held) return done(store());
          telemetry.error(new LockLostError(context.key), 'lock', key, true);
        });
  if (stored === undefined) {
    flights.land(flight);
    return value;
  }
  engine.background(
    stored.finally(() => {
      // A write that timed out may still land: the lock lapses instead of being released, so
      // the next holder does not store first and then see this write land over its value.
      if (failed) lease?.stopRenewing();
      else lease?.release();
      flights.land(flight);
    }),
  );
  return value;
}

function entryOf<T>(
  engine: Engine,
  view: View,
  value: T,
  plan: Plan,
  context: Context<T>,
): CacheEntry | undefined {
  if (value === undefined) return undefined;
  const ttl = context.ttl ?? plan.ttl;
  // A load counts from when it started: a tag invalidated while it ran voids its result.
  return newEntry(
    engine,
    view,
    value,
    value === null ? (plan.negativeTtl ?? ttl) : ttl,
    plan,
    context.tags ?? plan.tags,
    context.startedAt,
  );
}

/**
 * The entry that stores `value` through `view`: its own tags plus the view's (one per versioned
 * namespace it is in), its TTL counted from now; `undefined` for a TTL of 0.
 */
export function newEntry(
  engine: Engine,
  view: View,
  value: unknown,
  ttl: number,
  plan: Plan,
  own: string[] | undefined,
  createdAt: number,
): CacheEntry | undefined {
  const { scopeTags } = view;
  const tags = scopeTags.length === 0 ? own : [...scopeTags, ...(own ?? [])];
  return buildEntry(value, ttl, plan, tags, engine.writeTime(), createdAt);
}

/** Counts and reports a value stored. */
export function written(engine: Engine, key: string, entry: CacheEntry): void {
  const { telemetry } = engine;
  telemetry.counters.sets++;
  if (telemetry.listening.set) {
    telemetry.emit('set', { key, store: engine.gateway.store.name, entry });
  }
}

class Context<T> implements LoaderContext<T>, Supersedable<T> {
  ttl: number | undefined;
  superseded: (() => Promise<T> | undefined) | undefined;
  tags: string[] | undefined;
  skipped = false;
  /** The lease of the shared lock this load runs under, if any. */
  lease: Lease | undefined;
  // Made when the loader first reads `signal` (most never do: it costs microseconds per miss).
  #controller: AbortController | undefined;
  #aborted: { reason: unknown } | undefined;

  constructor(
    readonly key: string,
    readonly stale: T | undefined,
    /** The stamp of the load's start: a tag invalidated after it voids what it loads. */
    readonly startedAt: number,
  ) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted !== undefined) this.#controller.abort(this.#aborted.reason);
    }
    return this.#controller.signal;
  }

  /** Whether the load was aborted (hard timeout). */
  get aborted(): boolean {
    return this.#aborted !== undefined;
  }

  abort(reason: unknown): void {
    this.#aborted ??= { reason };
    this.#controller?.abort(reason);
    // A loader past its hard timeout may never settle: it must not hold the lock for ever.
    this.lease?.stopRenewing();
  }

  setTtl(ttl: Duration): void {
    this.ttl = parseTtl(ttl);
  }

  setTags(tags: string[]): void {
    checkTags(tags);
    this.tags = tags;
  }

  skip(): void {
    this.skipped = true;
  }
}
