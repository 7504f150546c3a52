import type { BehindWrite, Entry, FinalRow } from '../history.js';

/** A key whose final database row is not its last resolved write-behind write. */
export interface BadRow {
  key: string;
  /** The last `write()` of the key that resolved. */
  last: BehindWrite;
  /** The value in the database (`undefined`: no row). */
  row: number | undefined;
}

/** The write-behind verdict of a run. */
export interface WriteBehindResult {
  /** Keys with at least one resolved write. */
  keys: number;
  /** Resolved writes. */
  writes: number;
  /** Keys with no row although a write resolved. */
  lost: BadRow[];
  /** Keys whose row is older than their last resolved write (gone back in time). */
  stale: BadRow[];
}

/**
 * Compares the final rows with the last resolved `write()` of each key. A key's values grow with
 * each write (its one writer at a time numbers them), so a row may hold the last resolved value
 * or a newer one (a write whose resolution was not recorded, its process killed), never an
 * older one.
 */
export function checkWriteBehind(entries: readonly Entry[]): WriteBehindResult {
  const last = new Map<string, BehindWrite>();
  const rows = new Map<string, number>();
  let writes = 0;
  for (const entry of entries) {
    if (entry.type === 'row') rows.set(entry.key, (entry as FinalRow).value);
    if (entry.type !== 'wb' || !entry.ok) continue;
    writes++;
    const previous = last.get(entry.key);
    if (previous === undefined || entry.value > previous.value) last.set(entry.key, entry);
  }
  const lost: BadRow[] = [];
  const stale: BadRow[] = [];
  for (const [key, write] of last) {
    const row = rows.get(key);
    if (row === undefined) lost.push({ key, last: write, row });
    else if (row < write.value) stale.push({ key, last: write, row });
  }
  return { keys: last.size, writes, lost, stale };
}
