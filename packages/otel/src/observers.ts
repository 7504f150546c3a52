import type { BreakerMessage } from '@cache/core';
import type { Meter } from '@opentelemetry/api';
import { BREAKER_STATES, INSTRUMENTS, type InstrumentSpec, optionsOf } from './names.js';
import type { Tally } from './tally.js';

/** An in-process store whose size is observed: `memoryStore()` from `@cache/memory`. */
export interface ObservedMemoryStore {
  readonly name: string;
  /** Entries held. */
  readonly size: number;
  /** Sum of the entries' sizes (`sizeOf`), if measured. */
  readonly bytes?: number;
}

/** A write-behind whose queue is observed: `writeBehind()` from `@cache/write-behind`. */
export interface ObservedWriteBehind {
  stats(): { depth: number; retried: number; deadLettered: number };
}

/**
 * Observes the stores' entries and bytes, the write-behinds' queues, the breakers' last states
 * and the tallies at each collection; returns a function that stops.
 */
export function observe(
  meter: Meter,
  sources: {
    memoryStores: ObservedMemoryStore[];
    writeBehinds: ObservedWriteBehind[];
    breakers: Map<string, BreakerMessage['state']>;
    tallies: [InstrumentSpec, Tally][];
  },
): () => void {
  const { memoryStores, writeBehinds, breakers } = sources;
  const upDown = (spec: InstrumentSpec) =>
    meter.createObservableUpDownCounter(spec.name, optionsOf(spec));
  const total = (spec: InstrumentSpec) => meter.createObservableCounter(spec.name, optionsOf(spec));
  const memoryEntries = upDown(INSTRUMENTS.memoryEntries);
  const memorySize = upDown(INSTRUMENTS.memorySize);
  const breakerState = meter.createObservableGauge(
    INSTRUMENTS.breakerState.name,
    optionsOf(INSTRUMENTS.breakerState),
  );
  const queueDepth = upDown(INSTRUMENTS.queueDepth);
  const retries = total(INSTRUMENTS.retries);
  const deadLetters = total(INSTRUMENTS.deadLetters);
  const tallies = sources.tallies.map(([spec, tally]) => [total(spec), tally] as const);
  const callback: Parameters<Meter['addBatchObservableCallback']>[0] = (result) => {
    for (const [instrument, tally] of tallies) {
      for (const { attributes, value } of tally.sums())
        result.observe(instrument, value, attributes);
    }
    memoryStores.forEach((store, i) => {
      const attributes = { 'cache.store': store.name, 'cache.store.index': i };
      result.observe(memoryEntries, store.size, attributes);
      if (store.bytes !== undefined) result.observe(memorySize, store.bytes, attributes);
    });
    writeBehinds.forEach((writeBehind, i) => {
      const stats = writeBehind.stats();
      const attributes = { 'cache.write_behind.index': i };
      result.observe(queueDepth, stats.depth, attributes);
      result.observe(retries, stats.retried, attributes);
      result.observe(deadLetters, stats.deadLettered, attributes);
    });
    for (const [store, state] of breakers) {
      result.observe(breakerState, BREAKER_STATES[state], { 'cache.store': store });
    }
  };
  const observables = [
    memoryEntries,
    memorySize,
    breakerState,
    queueDepth,
    retries,
    deadLetters,
    ...tallies.map(([instrument]) => instrument),
  ];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
