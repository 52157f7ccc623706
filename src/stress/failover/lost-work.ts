/**
 * What a failover run's client must notice: after an asynchronous standby is promoted, the store
 * has gone back in time. A start the client saw acknowledged may be gone (its instance is neither
 * in `instances` nor waiting in the orchestrator queue), and an instance the client saw finish may
 * be running again. The workload resubmits the first (same id, same input: a start is idempotent)
 * and waits again for the second; in sync mode the first must never happen.
 */
import type pg from "pg";
import { quoteSchema } from "../../migrate/migrations.ts";

export interface StoreAudit {
  /** Acknowledged starts the store has no trace of. */
  missing: string[];
  /** Instances that exist (or wait to start) but whose current execution has not finished. */
  unfinished: string[];
}

/**
 * One statement, so one snapshot: a start being processed moves from the queue to `instances`
 * in one transaction, so it is seen in exactly one of the two.
 */
export function storeAuditor(pool: pg.Pool, schema: string): (ids: readonly string[]) => Promise<StoreAudit> {
  const q = quoteSchema(schema);
  const text = `
    SELECT w.instance_id AS id,
           i.instance_id IS NULL
             AND NOT EXISTS (SELECT 1 FROM ${q}.orchestrator_queue oq WHERE oq.instance_id = w.instance_id)
             AS missing
      FROM unnest($1::text[]) AS w(instance_id)
      LEFT JOIN ${q}.instances i ON i.instance_id = w.instance_id
      LEFT JOIN ${q}.executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
     WHERE e.status IS NULL OR e.status NOT IN ('Completed', 'Failed')`;
  return async (ids) => {
    if (ids.length === 0) return { missing: [], unfinished: [] };
    const { rows } = await pool.query<{ id: string; missing: boolean }>(text, [ids]);
    return {
      missing: rows.filter((r) => r.missing).map((r) => r.id),
      unfinished: rows.filter((r) => !r.missing).map((r) => r.id),
    };
  };
}

/**
 * What the run reports about work the store forgot, and what makes it fail: in sync mode a start
 * the client saw acknowledged must survive every failover. An instance seen finished may come back
 * in either mode: the client can read a commit on the primary before the standby confirmed it,
 * and if the primary dies then, the writer never got its acknowledgement.
 */
export function lostWorkVerdict(
  mode: "sync" | "async",
  lostStarts: number,
  reopened: number,
): { line: string; violations: string[] } {
  const line = `failover (${mode}): ${lostStarts} acknowledged start(s) lost and submitted again, ${reopened} instance(s) seen finished were running again`;
  const violations =
    mode === "sync" && lostStarts > 0
      ? [`${lostStarts} acknowledged start(s) lost although replication was synchronous`]
      : [];
  return { line, violations };
}
