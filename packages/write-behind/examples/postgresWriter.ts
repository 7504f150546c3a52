import type { BatchRemover, BatchWriter, WriteBehindEntry } from '@cache/write-behind';
import type { Pool } from 'pg';

/**
 * A writer for `writeBehind({ write })`: one `INSERT … ON CONFLICT DO UPDATE` per batch, whatever
 * its size. The batch travels as one JSON parameter that `jsonb_to_recordset` turns into rows
 * (about twice as fast as array parameters). A row is updated only by a newer write (a greater
 * `entry.sequence`), so a batch delivered again, or a write claimed late from a dead process,
 * never takes a row back in time. `table` needs a unique `key` and a `seq`:
 *
 *   CREATE TABLE users (key text PRIMARY KEY, value jsonb NOT NULL, seq numeric NOT NULL, updated_at timestamptz)
 */
export function postgresWriter<V>(pool: Pool, table: string): BatchWriter<V> {
  // A JSON null comes out of jsonb_to_recordset as SQL NULL: store it as the JSON null it was.
  const sql = `INSERT INTO ${table} (key, value, seq, updated_at)
    SELECT key, coalesce(value, 'null'), seq, now()
    FROM jsonb_to_recordset($1) AS rows (key text, value jsonb, seq numeric)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, seq = excluded.seq, updated_at = excluded.updated_at
    WHERE ${table}.seq < excluded.seq`;
  return async (batch: WriteBehindEntry<V>[]) => {
    const rows = batch.map(({ key, value, sequence }) => ({ key, value, seq: sequence }));
    await pool.query(sql, [JSON.stringify(rows)]);
  };
}

/** A remover for `writeBehind({ remove })`: one `DELETE … WHERE key = ANY($1)` per batch. */
export function postgresRemover(pool: Pool, table: string): BatchRemover {
  const sql = `DELETE FROM ${table} WHERE key = ANY($1)`;
  return async (keys: string[]) => {
    await pool.query(sql, [keys]);
  };
}
