// Reading what the real OTel SDK recorded: an in-memory metric exporter behind a reader that
// exports when asked, and an in-memory span exporter; helpers that sum the points of a metric.

import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/** A meter provider, tracer provider and context manager whose output the test reads. */
export function telemetrySdk() {
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 2_000_000_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);

  /** Every point of metric `name` now, each with its attributes. */
  async function points(name: string): Promise<DataPoint<unknown>[]> {
    metricExporter.reset();
    await reader.forceFlush();
    const batches = metricExporter.getMetrics();
    const found: DataPoint<unknown>[] = [];
    for (const scope of batches.at(-1)?.scopeMetrics ?? []) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name === name) found.push(...metric.dataPoints);
      }
    }
    return found;
  }

  /** The sum of the values (counters, gauges) or counts (histograms) of the points matching `where`. */
  async function total(name: string, where: Record<string, unknown> = {}): Promise<number> {
    let sum = 0;
    for (const point of await points(name)) {
      if (!Object.entries(where).every(([k, v]) => point.attributes[k] === v)) continue;
      const value = point.value;
      sum += typeof value === 'number' ? value : (value as Histogram).count;
    }
    return sum;
  }

  async function shutdown() {
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
    contextManager.disable();
    context.disable();
  }

  return { meterProvider, tracerProvider, spanExporter, points, total, shutdown };
}
