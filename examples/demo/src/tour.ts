import { type Cache, cached, createCache, readThrough } from '@cache/core';
import { defineKey } from '@cache/keys';
import { memoryStore } from '@cache/memory';
import { SlowDatabase, type User } from './slowDatabase.js';

/** One line of the demo's report. */
export interface Step {
  pattern: string;
  what: string;
  /** Values the step read (0 for a write). */
  reads: number;
  dbQueries: number;
  /** Cache lookups that found nothing fresh, including callers that waited for another's load. */
  misses: number;
  ms: number;
}

const userKey = defineKey('user:{id}');

/**
 * Runs every pattern once against a fresh cache and a slow database, returning what happened.
 * `latency` is the database's per-query delay in ms.
 */
export async function runTour(
  latency = 40,
): Promise<{ steps: Step[]; cache: Cache; db: SlowDatabase }> {
  const db = new SlowDatabase(latency);
  const cache = createCache({
    store: memoryStore({ maxEntries: 10_000 }),
    ttl: '10m',
    jitter: '30s',
    grace: '1h',
  });
  const steps: Step[] = [];
  const step = async (
    pattern: string,
    what: string,
    reads: number,
    run: () => Promise<unknown>,
  ) => {
    const queries = db.queries;
    const misses = cache.stats().misses;
    const start = performance.now();
    await run();
    const ms = performance.now() - start;
    steps.push({
      pattern,
      what,
      reads,
      dbQueries: db.queries - queries,
      misses: cache.stats().misses - misses,
      ms,
    });
  };

  // Cache-aside: the application checks the cache, falls back to the database, fills the cache.
  const getUserAside = async (id: number): Promise<User | null> => {
    const key = userKey({ id });
    const hit = await cache.get<User | null>(key);
    if (hit !== undefined) return hit;
    const user = await db.findUser(id);
    await cache.set(key, user);
    return user;
  };
  await step('cache-aside', 'get user 1 (cold)', 1, () => getUserAside(1));
  await step('cache-aside', 'get user 1 (warm)', 1, () => getUserAside(1));
  await step('cache-aside', 'update user 1, delete its key', 0, async () => {
    await db.updateUser(1, 'Ada');
    await cache.delete(userKey({ id: 1 }));
  });
  await step('cache-aside', 'get user 1 (reloaded)', 1, () => getUserAside(1));

  // Read-through: the cache loads misses itself.
  const users = readThrough(cache.namespace('rt'), (id) => db.findUser(Number(id)));
  await step('read-through', 'get user 2 (cold)', 1, () => users('2'));
  await step('read-through', 'get user 2 (warm)', 1, () => users('2'));

  // Stampede protection: 1,000 concurrent requests for one cold key make one query.
  const hot = () => cache.getOrSet(userKey({ id: 3 }), () => db.findUser(3));
  await step('getOrSet', '1,000 concurrent gets of a cold key', 1_000, () =>
    Promise.all(Array.from({ length: 1_000 }, hot)),
  );
  await step('getOrSet', '1,000 more (all hits)', 1_000, () =>
    Promise.all(Array.from({ length: 1_000 }, hot)),
  );

  // The cached() wrapper: keys come from the function name and its arguments.
  const countOrders = cached(db.countOrders.bind(db), { cache, name: 'countOrders', ttl: '1m' });
  await step('cached()', 'countOrders(4, open) cold', 1, () => countOrders(4, 'open'));
  await step('cached()', 'countOrders(4, open) warm', 1, () => countOrders(4, 'open'));
  await step('cached()', 'countOrders(4, shipped) cold', 1, () => countOrders(4, 'shipped'));

  // Write-through: database first, then the cache, so the next read is a hit with the new value.
  await step('write-through', 'rename user 5', 0, () =>
    cache.writeThrough(
      userKey({ id: 5 }),
      { id: 5, name: 'Grace', updatedAt: new Date() },
      (user) => db.updateUser(5, (user as User).name),
    ),
  );
  await step('write-through', 'get user 5 (hit)', 1, () =>
    cache.getOrSet(userKey({ id: 5 }), () => db.findUser(5)),
  );

  // Grace (stale-if-error): the database goes down after the value expired; the stale value is served.
  await cache.set(userKey({ id: 6 }), await db.findUser(6), { ttl: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  db.down = true;
  await step('grace', 'get user 6 while the database is down', 1, () =>
    cache.getOrSet(userKey({ id: 6 }), () => db.findUser(6)),
  );
  db.down = false;
  return { steps, cache, db };
}
