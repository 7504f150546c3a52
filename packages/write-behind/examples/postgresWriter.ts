import type { BatchWriter, WriteBehindEntry } from '@cache/write-behind';
import type { Pool } from 'pg';

/**
 * A writer for `writeBehind({ write })`: one `INSERT … ON CONFLICT DO UPDATE` per batch, whatever
 * its size (the rows travel as two array parameters). It is idempotent, so a batch delivered
 * again after a crash writes the same rows again. `table` needs a unique `key`:
 *
 *   CREATE TABLE users (key text PRIMARY KEY, value jsonb NOT NULL, updated_at timestamptz)
 */
export function postgresWriter<V>(pool: Pool, table: string): BatchWriter<V> {
  const sql = `INSERT INTO ${table} (key, value, updated_at)
    SELECT key, value, now() FROM unnest($1::text[], $2::jsonb[]) AS rows (key, value)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
  return async (batch: WriteBehindEntry<V>[]) => {
    const keys = batch.map((entry) => entry.key);
    const values = batch.map((entry) => JSON.stringify(entry.value));
    await pool.query(sql, [keys, values]);
  };
}
