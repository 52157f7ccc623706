/**
 * Server-side counters sampled before and after a run: committed transactions of our database
 * (pg_stat_database) and WAL written (LSN distance, which works on every major since 10).
 */
import type pg from "pg";

export interface DbCounters {
  transactions: number;
  walLsn: string;
}

export async function sampleCounters(pool: pg.Pool): Promise<DbCounters> {
  // pg_stat_database is refreshed from the stats snapshot; clear the cached snapshot first.
  await pool.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await pool.query<{ tx: string; lsn: string }>(
    `SELECT (xact_commit + xact_rollback)::text AS tx, pg_current_wal_lsn()::text AS lsn
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  const row = rows[0]!;
  return { transactions: Number(row.tx), walLsn: row.lsn };
}

/** Bytes of WAL between two LSNs. */
export async function walBytesBetween(pool: pg.Pool, from: string, to: string): Promise<number> {
  const { rows } = await pool.query<{ bytes: string }>(
    "SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::text AS bytes",
    [from, to],
  );
  return Number(rows[0]!.bytes);
}

/** Server version, e.g. "PostgreSQL 18.0", for reports. */
export async function serverVersion(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  return `PostgreSQL ${rows[0]!.v}`;
}
