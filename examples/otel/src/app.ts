import { type Cache, createCache } from '@cache/core';
import { type MemoryStore, memoryStore } from '@cache/memory';
import { type MultilevelStore, multilevel } from '@cache/multilevel';
import { instrumentCache } from '@cache/otel';
import { redisBus, redisStore } from '@cache/redis';
import { type WriteBehind, writeBehind } from '@cache/write-behind';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import express from 'express';
import type { User, UserDatabase } from './users.js';

/** What the app needs: Redis, the database, and the OpenTelemetry SDK's pieces. */
export interface AppOptions {
  redisUrl: string;
  database: UserDatabase;
  prometheus: PrometheusExporter;
  meterProvider: MeterProvider;
  tracerProvider: TracerProvider;
}

/** The app, its cache and what it closes on shutdown. */
export interface App {
  app: express.Express;
  cache: Cache;
  l1: MemoryStore;
  store: MultilevelStore;
  writes: WriteBehind<User>;
  close(): Promise<void>;
}

/**
 * A users API over a memory L1 and a Redis L2: reads through `getOrSet` (with grace, so a failing
 * database is answered from the cache), writes through a write-behind queue; `/metrics` for
 * Prometheus and `/stats` for `cache.stats()`.
 */
export function createApp(options: AppOptions): App {
  const { database } = options;
  const l1 = memoryStore({ maxEntries: 1_000 });
  const l2 = redisStore({ url: options.redisUrl, prefix: 'example:' });
  const store = multilevel({
    tiers: [l1, l2],
    bus: redisBus({ client: l2.client, channel: 'example:invalidate' }),
    l1Ttl: '30s',
  });
  const cache = createCache({ store, ttl: '1m', grace: '1h', timeouts: { hard: '2s' } });
  const users = cache.namespace('user');
  const writes = writeBehind<User>({
    cache: users,
    write: (rows) => database.save(rows.map((row) => row.value!)),
    flushInterval: '200ms',
    retry: { retries: 3, minDelay: '100ms' },
  });
  const instrumentation = instrumentCache({
    meterProvider: options.meterProvider,
    tracerProvider: options.tracerProvider,
    memoryStores: [l1],
    writeBehinds: [writes],
  });

  const app = express();
  app.use(express.json());
  app.get('/users/:id', async (req, res) => {
    const id = Number(req.params.id);
    try {
      const user = await users.getOrSet(String(id), () => database.find(id));
      if (user === undefined) res.status(404).json({ error: 'no such user' });
      else res.json(user);
    } catch {
      res.status(503).json({ error: 'database unavailable and nothing cached' });
    }
  });
  app.put('/users/:id', async (req, res) => {
    const user: User = { id: Number(req.params.id), name: String(req.body?.name) };
    await writes.write(String(user.id), user);
    res.status(202).json(user);
  });
  app.get('/metrics', (req, res) => options.prometheus.getMetricsRequestHandler(req, res));
  app.get('/stats', (_req, res) => res.json(cache.stats()));

  return {
    app,
    cache,
    l1,
    store,
    writes,
    async close() {
      await writes.close();
      instrumentation.stop();
      await cache.close();
    },
  };
}
