/** What defines an instrument: its name, unit and description. */
export interface InstrumentSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

/** The instruments @cache/otel records (see the README's table). */
export const INSTRUMENTS = {
  operations: {
    name: 'cache.operations',
    unit: '{operation}',
    description: 'Cache lookups by outcome: hit, miss, or stale (a stale value served under grace)',
  },
  storeOperations: {
    name: 'cache.store.operations',
    unit: '{operation}',
    description: 'Calls of each store tier; reads by outcome',
  },
  storeDuration: {
    name: 'cache.store.duration',
    unit: 's',
    description: 'Duration of store calls, per tier',
  },
  loadDuration: { name: 'cache.load.duration', unit: 's', description: 'Duration of loader calls' },
  loadActive: {
    name: 'cache.load.active',
    unit: '{load}',
    description: 'Loader calls running now',
  },
  memoryEntries: {
    name: 'cache.memory.entries',
    unit: '{entry}',
    description: 'Entries held by in-process stores (expired ones not yet reclaimed included)',
  },
  memorySize: {
    name: 'cache.memory.size',
    unit: 'By',
    description: 'Sum of the sizes of the entries of in-process stores, as measured by sizeOf',
  },
  evictions: {
    name: 'cache.evictions',
    unit: '{entry}',
    description: 'Entries evicted from in-process stores to make room',
  },
  breakerState: {
    name: 'cache.breaker.state',
    unit: '1',
    description: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
  },
  breakerTransitions: {
    name: 'cache.breaker.transitions',
    unit: '{transition}',
    description: 'Circuit breaker state changes, by the state entered',
  },
  busMessages: {
    name: 'cache.bus.messages',
    unit: '{message}',
    description: 'Invalidation messages published and received',
  },
  busLag: {
    name: 'cache.bus.lag',
    unit: 's',
    description: 'Time from publishing an invalidation to receiving it in another process',
  },
  lockAcquireDuration: {
    name: 'cache.lock.acquire.duration',
    unit: 's',
    description: 'Time to take a distributed lock, waiting included',
  },
  lockRenewals: {
    name: 'cache.lock.renewals',
    unit: '{renewal}',
    description: 'Lease renewals of distributed locks, by outcome',
  },
  queueDepth: {
    name: 'cache.write_behind.queue.depth',
    unit: '{write}',
    description: 'Writes waiting in write-behind queues',
  },
  flushDuration: {
    name: 'cache.write_behind.flush.duration',
    unit: 's',
    description: 'Duration of write-behind batches, retries included',
  },
  retries: {
    name: 'cache.write_behind.retries',
    unit: '{retry}',
    description: 'Failed write-behind batches tried again',
  },
  deadLetters: {
    name: 'cache.write_behind.dead_letters',
    unit: '{write}',
    description: 'Writes handed to the dead-letter handler',
  },
} as const satisfies Record<string, InstrumentSpec>;

/** Bucket boundaries of the duration histograms, in seconds: 50 µs to 10 s. */
export const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5, 10,
];

/** `cache.breaker.state`'s values. */
export const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

/** The `error.type` attribute of a failure: its `code`, else its class name. */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.constructor.name : '_OTHER';
}

/** The options of an instrument: histograms in seconds get {@link DURATION_BUCKETS}. */
export function optionsOf(spec: InstrumentSpec) {
  const { description, unit } = spec;
  return unit === 's'
    ? { description, unit, advice: { explicitBucketBoundaries: DURATION_BUCKETS } }
    : { description, unit };
}
