import { graceEnd } from './entry.js';
import { recordStamps } from './tags.js';
import type { CacheEntry } from './types.js';

/**
 * What a store keeps of a tag record when `incoming` is merged into `stored` (see
 * `CacheStore.mergeTagRecords`): the later of the two last invalidations (`value`) and the later
 * of the two last hard ones (`createdAt`, left out when it is the last invalidation too, as a
 * hard invalidation writes it), so that no write lowers a stamp another one has raised, whatever
 * order they land in. It lives as long as the longer-lived of the two (`expiresAt` and
 * `staleUntil` of that one). A missing record (`stored` undefined) gives `incoming` itself.
 */
export function mergeTagRecord(stored: CacheEntry | undefined, incoming: CacheEntry): CacheEntry {
  if (stored === undefined) return incoming;
  const old = recordStamps(stored);
  const added = recordStamps(incoming);
  const at = Math.max(old.at, added.at);
  const hard = Math.max(old.hard, added.hard);
  const longer = graceEnd(stored) > graceEnd(incoming) ? stored : incoming;
  const merged: CacheEntry = { value: at, expiresAt: longer.expiresAt };
  if (longer.staleUntil !== undefined) merged.staleUntil = longer.staleUntil;
  if (hard < at) merged.createdAt = hard;
  return merged;
}
