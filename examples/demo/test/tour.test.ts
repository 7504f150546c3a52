import { expect, test } from 'vitest';
import { runTour } from '../src/tour.js';

test('the demo tour hits the database only where a pattern needs it', async () => {
  const { steps, cache } = await runTour(5);
  const queries = Object.fromEntries(steps.map((s) => [`${s.pattern}: ${s.what}`, s.dbQueries]));
  expect(queries).toEqual({
    'cache-aside: get user 1 (cold)': 1,
    'cache-aside: get user 1 (warm)': 0,
    'cache-aside: update user 1, delete its key': 1,
    'cache-aside: get user 1 (reloaded)': 1,
    'read-through: get user 2 (cold)': 1,
    'read-through: get user 2 (warm)': 0,
    'getOrSet: 1,000 concurrent gets of a cold key': 1,
    'getOrSet: 1,000 more (all hits)': 0,
    'cached(): countOrders(4, open) cold': 1,
    'cached(): countOrders(4, open) warm': 0,
    'cached(): countOrders(4, shipped) cold': 1,
    'write-through: rename user 5': 1,
    'write-through: get user 5 (hit)': 0,
    'grace: get user 6 while the database is down': 1,
  });
  expect(cache.stats().staleHits).toBe(1);
});
