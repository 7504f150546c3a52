// The rows of tables (d) and (g) that measure our getOrSet with someone listening: a no-op
// subscriber on every @cache diagnostics channel, or @cache/otel recording into a real
// MeterProvider (whose reader never exports during the run).
import { subscribe } from 'node:diagnostics_channel';
import { channels } from '@cache/core';
import { instrumentCache } from '@cache/otel';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { type Result, ratio } from './harness.js';

/** The suffix of the row with a no-op subscriber on every channel. */
export const SUBSCRIBED = ', no-op subscriber on every channel';
/** The suffix of the row with @cache/otel attached. */
export const WITH_OTEL = ' + @cache/otel';

/** Subscribes a no-op listener to every channel of `channels` (every traced event too). */
export function subscribeNoop(): void {
  const noop = () => {};
  for (const channel of Object.values(channels)) {
    if ('start' in channel) {
      channel.subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop });
    } else subscribe(channel.name as string, noop);
  }
}

class IdleReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Attaches @cache/otel with a real MeterProvider (metrics only: no span is ever parented). */
export function attachOtel(): void {
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  instrumentCache({ meterProvider, spans: false });
}

/** Runs the setup of a row: `name` ends with one of the suffixes or none. */
export function listenFor(name: string): void {
  if (name.endsWith(SUBSCRIBED)) subscribeNoop();
  else if (name.endsWith(WITH_OTEL)) attachOtel();
}

/** The line under a table: what a subscriber and @cache/otel cost, paired per round. */
export function listenerCost(
  results: Result[],
  ours: string,
  subscribed: string,
  otel: string,
): string {
  const cost = (row: string) => ((1 - ratio(results, row, ours)) * 100).toFixed(0);
  return `with a no-op subscriber on every channel / ours = ${ratio(results, subscribed, ours).toFixed(2)} (${cost(subscribed)}% slower); with @cache/otel / ours = ${ratio(results, otel, ours).toFixed(2)} (${cost(otel)}% slower), paired per round`;
}
