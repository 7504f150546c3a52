import type { CheckOptions } from './check/checkHistory.js';

/**
 * The checker's bounds for a run whose lock uses the cache's defaults (`lockTtl` 5 s) and whose
 * workers cap L1 at `l1Ttl` ms. `bound` is the staleness bound while the bus is up and after a
 * reconnection; a read during a fault may be stale for up to the L1 TTL more.
 */
export function checkOptions(bound: number, l1Ttl = 5_000): CheckOptions {
  return {
    staleness: {
      bound,
      faultBound: l1Ttl + bound,
      recoveryWindow: 2_000,
      reconnectWait: 30_000,
    },
    // The lease (5 s) lapses, then one survivor loads (200 ms) while the others wait for it.
    lockHolder: { waitBound: 5_000 + 200 + Math.max(bound, 2_000) },
    heap: { bytes: 8 * 1024 * 1024, ratio: 0.5 },
  };
}
