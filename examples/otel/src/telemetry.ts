import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, ConsoleSpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';

/**
 * The OpenTelemetry SDK of the app: metrics read by a Prometheus exporter that the app serves on
 * its own `/metrics` route, spans batched to the console when `TRACE=1` (swap in an OTLP
 * exporter in production).
 */
export function startTelemetry() {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [prometheus] });
  const tracerProvider = new TracerProvider({
    spanProcessors:
      process.env.TRACE === '1'
        ? [new BatchSpanProcessor({ exporter: new ConsoleSpanExporter() })]
        : [],
  });
  return {
    prometheus,
    meterProvider,
    tracerProvider,
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}
