/**
 * Learns when in-flight orchestrations finish with one batched query per tick (instead of one
 * status poll per instance), and reports the store's own completion time so latency is measured
 * start → completion, not start → "noticed". Its queries are counted so the run's transactions
 * per orchestration can exclude them.
 */
import type pg from "pg";
import { quoteSchema } from "../migrate/migrations.ts";

export interface Finished {
  instanceId: string;
  status: "Completed" | "Failed";
  completedAtMs: number;
  output: string | null;
}

export class CompletionWatcher {
  queries = 0;
  private readonly sqlText: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    const q = quoteSchema(schema);
    this.sqlText = `SELECT i.instance_id, e.status, e.completed_at_ms::text AS completed_at_ms, e.output
                      FROM ${q}.instances i
                      JOIN ${q}.executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                     WHERE i.instance_id = ANY($1::text[]) AND e.status IN ('Completed', 'Failed')`;
  }

  async poll(instanceIds: readonly string[]): Promise<Finished[]> {
    if (instanceIds.length === 0) return [];
    this.queries++;
    const { rows } = await this.pool.query<{
      instance_id: string;
      status: "Completed" | "Failed";
      completed_at_ms: string | null;
      output: string | null;
    }>({ name: "stress_watch", text: this.sqlText, values: [instanceIds] });
    return rows.map((r) => ({
      instanceId: r.instance_id,
      status: r.status,
      completedAtMs: r.completed_at_ms === null ? Date.now() : Number(r.completed_at_ms),
      output: r.output,
    }));
  }
}
