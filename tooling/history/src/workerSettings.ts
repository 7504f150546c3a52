import type { PostgresConfig } from '@cache-tooling/postgres-server';

/** What the runner tells a worker process (as JSON in its first argument). */
export interface WorkerSettings {
  /** This worker's number; a restarted worker keeps it. */
  worker: number;
  /** The directory of the history files. */
  dir: string;
  redisPort: number;
  pg: PostgresConfig;
  /** How many shared keys (`k0`…) the operations pick from: few, so that they collide. */
  keys: number;
  /** How many write-behind keys (`wb:<worker>:<n>`) this worker writes. */
  behindKeys: number;
  /** Concurrent operation loops. */
  loops: number;
  /** The most ms a loop pauses between two operations (a random pause below it). */
  pause: number;
  /** The multilevel store's `l1Ttl`. */
  l1Ttl: string;
  /** Whether operations use tags (getOrSet tags its entries, writes and invalidations by tag). */
  tags: boolean;
  /** ms between two heap samples (after a full GC); 0 for none. */
  heapInterval: number;
}

/** The tables: the source of truth of the shared keys, and the write-behind rows. */
export const schemaSql = `
  CREATE TABLE items (key text PRIMARY KEY, version integer NOT NULL);
  CREATE TABLE behind (key text PRIMARY KEY, value jsonb NOT NULL, seq numeric NOT NULL);`;

/**
 * The write-behind upsert (as in @cache/write-behind's README): one statement per batch, a row
 * updated only by a write with a greater sequence, so a late or repeated batch never takes it back.
 */
export const upsertSql = `INSERT INTO behind (key, value, seq)
  SELECT key, value, seq FROM jsonb_to_recordset($1) AS rows (key text, value jsonb, seq numeric)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, seq = excluded.seq
  WHERE behind.seq < excluded.seq`;
