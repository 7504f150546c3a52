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
type Six<T> = [T, T, T, T, T, T];

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
  const [operations, storeOperations, evictions, breakerTransitions, busMessages, lockRenewals] = [
    I.operations,
    I.storeOperations,
    I.evictions,
    I.breakerTransitions,
    I.busMessages,
    I.lockRenewals,
  ].map((spec: InstrumentSpec) => meter.createCounter(spec.name, optionsOf(spec))) as Six<Counter>;
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

  const started = new WeakMap<object, number>();
  const startTimer = (message: object) => started.set(message, performance.now());
  const elapsed = (message: object) => (performance.now() - (started.get(message) ?? 0)) / 1000;
  const failure = (message: { error?: unknown }): Attributes =>
    message.error === undefined ? {} : { 'error.type': errorType(message.error) };

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
    const attributes: Attributes = {
      'cache.operation': m.operation,
      'cache.outcome': m.outcome,
      'cache.store': m.store,
      'cache.namespace': namespaces.of(m.key),
    };
    if (m.reason !== undefined) attributes['cache.stale_reason'] = m.reason;
    operations.add(1, attributes);
    spans?.outcome(m);
  });
  traced<StoreCallMessage>(channels.store, {
    start: startTimer,
    asyncEnd: (m) => {
      const attributes: Attributes = {
        'cache.store': m.store,
        'cache.tier': m.tier,
        'cache.operation': m.operation,
        ...failure(m),
      };
      storeDuration.record(elapsed(m), attributes);
      storeOperations.add(
        1,
        m.outcome === undefined ? attributes : { ...attributes, 'cache.outcome': m.outcome },
      );
    },
  });
  traced<KeyMessage>(channels.getOrSet, {
    start: (m) => spans?.startGetOrSet(m),
    asyncEnd: (m) => spans?.end(m),
  });
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

  undo.push(observe(meter, options.memoryStores ?? [], options.writeBehinds ?? [], breakers));

  return {
    stop() {
      for (const step of undo.splice(0)) step();
    },
  };
}
