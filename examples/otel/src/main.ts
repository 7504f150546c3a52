import { createApp } from './app.js';
import { startTelemetry } from './telemetry.js';
import { UserDatabase } from './users.js';

const telemetry = startTelemetry();
const database = new UserDatabase();
const { app, close } = createApp({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  database,
  ...telemetry,
});
const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, () => {
  const url = `http://localhost:${port}`;
  console.log(`Users on ${url}. Try:

  curl ${url}/users/1          # a miss, then hits
  curl -X PUT ${url}/users/1 -H 'content-type: application/json' -d '{"name": "Ada L."}'
  curl ${url}/metrics          # what Prometheus scrapes
  curl ${url}/stats            # cache.stats(): hit ratio, tiers, load latency percentiles
`);
});
process.on('SIGINT', () => {
  server.close();
  void close().then(() => telemetry.shutdown());
});
