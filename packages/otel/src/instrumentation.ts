import {
  subscribe,
  type TracingChannel,
  type TracingChannelSubscribers,
  unsubscribe,
} from 'node:diagnostics_channel';
import {
  type BreakerMessage,
  type BusChannelMessage,
  channels,
  type EvictMessage,
  type FlushMessage,
  type KeyMessage,
  type LockMessage,
  type OperationMessage,
  type StoreCallMessage,
} from '@cache/core';
import {
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { firstSegment, type KeyMode, NamespaceLabels } from './labels.js';
import { errorType, INSTRUMENTS, type InstrumentSpec, optionsOf } from './names.js';
import type { ObservedMemoryStore, ObservedWriteBehind } from './observers.js';
import { observe } from './observers.js';
import { Spans } from './spans.js';
import { Tally } from './tally.js';

/** Options of {@link instrumentCache}. */
export interface CacheInstrumentationOptions {
  /** Where the metrics go. @default the global meter provider (`metrics.getMeterProvider()`) */
  meterProvider?: MeterProvider;
  /** Where the spans go. @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
  /** Spans at all: `false` records metrics only. @default true */
  spans?: boolean;
  /** How keys appear on spans: `'hash'` (a SHA-256 prefix), `'omit'` or `'raw'`. Never on metrics. @default 'hash' */
  keys?: KeyMode;
  /** The `cache.namespace` label of a key. @default what comes before the key's first `:` */
  namespaceOf?: (key: string) => string;
  /** Distinct namespace labels kept; later ones are reported as `_other`. @default 50 */
  maxNamespaces?: number;
  /** In-process stores whose entries and bytes are observed (`cache.memory.*`). @default [] */
  memoryStores?: ObservedMemoryStore[];
  /** Write-behinds whose queue depth, retries and dead letters are observed. @default [] */
  writeBehinds?: ObservedWriteBehind[];
}

/** What {@link instrumentCache} returns. */
export interface CacheInstrumentation {
  /** Unsubscribes from every channel and stops observing: nothing more is recorded. */
  stop(): void;
}

type Five<T> = [T, T, T, T, T];
type Four<T> = [T, T, T, T];

// When a traced call started (ms, `performance.now()`), kept on its message.
const STARTED = Symbol('started');
type Timed = { [STARTED]?: number };

function startTimer(message: object): void {
  (message as Timed)[STARTED] = performance.now();
}

/** Seconds since {@link startTimer} was called with `message`. */
function elapsed(message: object): number {
  return (performance.now() - ((message as Timed)[STARTED] ?? 0)) / 1000;
}

function failure(message: { error?: unknown }): Attributes {
  return message.error === undefined ? {} : { 'error.type': errorType(message.error) };
}

function storeAttributes(m: StoreCallMessage): Attributes {
  return {
    'cache.store': m.store,
    'cache.tier': m.tier,
    'cache.operation': m.operation,
    ...failure(m),
  };
}

function storeCallAttributes(m: StoreCallMessage): Attributes {
  const attributes = storeAttributes(m);
  if (m.outcome !== undefined) attributes['cache.outcome'] = m.outcome;
  return attributes;
}

type Handlers<M> = {
  start?: (message: M) => void;
  asyncEnd?: (message: M) => void;
  error?: (message: M) => void;
};

/**
 * Turns @cache's diagnostics channels (see `channels` in `@cache/core`) into OpenTelemetry
 * metrics (see the README's table) and, under a span already active, spans. Keys are never
 * labels; the namespace label is guarded against cardinality.
 *
 * @example
 * const instrumentation = instrumentCache({ memoryStores: [l1] });
 * // … on shutdown
 * instrumentation.stop();
 */
export function instrumentCache(options: CacheInstrumentationOptions = {}): CacheInstrumentation {
  const meter: Meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(
    '@cache/otel',
  );
  const namespaces = new NamespaceLabels(
    options.maxNamespaces ?? 50,
    options.namespaceOf ?? firstSegment,
  );
  const spans =
    options.spans === false
      ? undefined
      : new Spans(
          (options.tracerProvider ?? trace.getTracerProvider()).getTracer('@cache/otel'),
          options.keys ?? 'hash',
        );
  const I = INSTRUMENTS;
  const [evictions, breakerTransitions, busMessages, lockRenewals] = [
    I.evictions,
    I.breakerTransitions,
    I.busMessages,
    I.lockRenewals,
  ].map((spec: InstrumentSpec) => meter.createCounter(spec.name, optionsOf(spec))) as Four<Counter>;
  // The two counters of every lookup and store call are summed here, reported at collection.
  const operations = new Tally();
  const storeOperations = new Tally();
  const [storeDuration, loadDuration, busLag, lockAcquire, flushDuration] = [
    I.storeDuration,
    I.loadDuration,
    I.busLag,
    I.lockAcquireDuration,
    I.flushDuration,
  ].map((spec: InstrumentSpec) =>
    meter.createHistogram(spec.name, optionsOf(spec)),
  ) as Five<Histogram>;
  const loadActive = meter.createUpDownCounter(I.loadActive.name, optionsOf(I.loadActive));

  const operationAttributes = (m: OperationMessage): Attributes => {
    const attributes: Attributes = {
      'cache.operation': m.operation,
      'cache.outcome': m.outcome,
      'cache.store': m.store,
      'cache.namespace': namespaces.of(m.key),
    };
    if (m.reason !== undefined) attributes['cache.stale_reason'] = m.reason;
    return attributes;
  };

  const breakers = new Map<string, BreakerMessage['state']>();
  const undo: (() => void)[] = [];
  const on = <M>(name: string, listener: (message: M) => void) => {
    const wrapped = listener as (message: unknown) => void;
    subscribe(name, wrapped);
    undo.push(() => unsubscribe(name, wrapped));
  };
  const traced = <M extends object>(channel: TracingChannel<object, M>, handlers: Handlers<M>) => {
    const all = handlers as TracingChannelSubscribers<M>;
    channel.subscribe(all);
    undo.push(() => channel.unsubscribe(all));
  };

  on<OperationMessage>('cache:operation', (m) => {
    const namespace = namespaces.of(m.key);
    operations.add(
      `${m.operation}|${m.outcome}|${m.reason}|${m.store}|${namespace}`,
      operationAttributes,
      m,
    );
    spans?.outcome(m);
  });
  traced<StoreCallMessage>(channels.store, {
    start: startTimer,
    asyncEnd: (m) => {
      // A synchronous call (an in-process tier) takes less time than timing it would.
      if (!m.synchronous) storeDuration.record(elapsed(m), storeAttributes(m));
      const type = m.error === undefined ? '' : errorType(m.error);
      storeOperations.add(
        `${m.store}|${m.tier}|${m.operation}|${m.outcome}|${type}`,
        storeCallAttributes,
        m,
      );
    },
  });
  if (spans !== undefined) {
    traced<KeyMessage>(channels.getOrSet, {
      start: (m) => spans.startGetOrSet(m),
      asyncEnd: (m) => spans.end(m),
    });
  }
  traced<KeyMessage>(channels.load, {
    start: (m) => {
      startTimer(m);
      loadActive.add(1, { 'cache.store': m.store });
      spans?.startLoad(m);
    },
    asyncEnd: (m) => {
      loadActive.add(-1, { 'cache.store': m.store });
      loadDuration.record(elapsed(m), {
        'cache.store': m.store,
        'cache.namespace': namespaces.of(m.key),
        ...failure(m),
      });
      spans?.end(m);
    },
  });
  on<EvictMessage>('cache:evict', (m) => evictions.add(m.count, { 'cache.store': m.store }));
  on<BreakerMessage>('cache:breaker', (m) => {
    breakers.set(m.store, m.state);
    breakerTransitions.add(1, { 'cache.store': m.store, 'cache.breaker.state': m.state });
  });
  traced<BusChannelMessage>(channels.busPublish, {
    asyncEnd: (m) =>
      busMessages.add(1, {
        'cache.bus.direction': 'publish',
        'cache.bus.message_type': m.message.type,
        ...failure(m),
      }),
  });
  on<BusChannelMessage>('cache:bus:receive', (m) => {
    busMessages.add(1, {
      'cache.bus.direction': 'receive',
      'cache.bus.message_type': m.message.type,
    });
    if (m.lag !== undefined)
      busLag.record(m.lag / 1000, { 'cache.bus.message_type': m.message.type });
  });
  traced<LockMessage>(channels.lockAcquire, {
    start: (m) => {
      startTimer(m);
      spans?.startLock(m);
    },
    asyncEnd: (m) => {
      const outcome =
        m.error !== undefined ? 'error' : m.result === undefined ? 'timeout' : 'acquired';
      lockAcquire.record(elapsed(m), { 'cache.lock.outcome': outcome, ...failure(m) });
      spans?.end(m);
    },
  });
  traced<LockMessage>(channels.lockRenew, {
    asyncEnd: (m) => {
      const outcome = m.error !== undefined ? 'error' : m.result ? 'held' : 'lost';
      lockRenewals.add(1, { 'cache.lock.outcome': outcome });
    },
  });
  traced<FlushMessage>(channels.writeBehindFlush, {
    start: startTimer,
    asyncEnd: (m) => flushDuration.record(elapsed(m), failure(m)),
  });

  undo.push(
    observe(meter, {
      memoryStores: options.memoryStores ?? [],
      writeBehinds: options.writeBehinds ?? [],
      breakers,
      tallies: [
        [I.operations, operations],
        [I.storeOperations, storeOperations],
      ],
    }),
  );

  return {
    stop() {
      for (const step of undo.splice(0)) step();
    },
  };
}
