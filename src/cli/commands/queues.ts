/**
 * `pg-durable queues`: how much work is waiting. Ready depths and instance counts come from the
 * admin API (any role that may run the store can see them); the split into delayed and locked
 * messages and the session count read the queue tables, so they appear only for a role that may
 * read them (the schema's owner), and are null otherwise.
 */
import { Command } from "commander";
import type pg from "pg";
import { quoteSchema } from "../../migrate/migrations.ts";
import { withStore } from "../connection.ts";
import { EXIT_OK, type RunContext } from "../io.ts";
import { type ConnectionFlags, type OutputFlags, withDatabaseOptions } from "../options.ts";
import { printJson, renderTable } from "../output.ts";

interface QueueBreakdown {
  orchDelayed: number;
  orchLocked: number;
  workDelayed: number;
  workLocked: number;
  sessionsActive: number;
  sessionsTotal: number;
}

/** Delayed/locked counts and sessions, or null when the connected role may not read the tables. */
async function readBreakdown(pool: pg.Pool, schema: string, nowMs: number): Promise<QueueBreakdown | null> {
  const q = quoteSchema(schema);
  const allowed = await pool.query<{ ok: boolean }>(
    `SELECT bool_and(has_table_privilege(format('%I.%I', $1::text, t), 'SELECT')) AS ok
       FROM unnest(ARRAY['orchestrator_queue', 'worker_queue', 'sessions']) AS t`,
    [schema],
  );
  if (!allowed.rows[0]?.ok) return null;
  const { rows } = await pool.query<Record<keyof QueueBreakdown, string>>(
    `SELECT (SELECT count(*) FROM ${q}.orchestrator_queue WHERE visible_at_ms > $1) AS "orchDelayed",
            (SELECT count(*) FROM ${q}.orchestrator_queue WHERE lock_token IS NOT NULL AND locked_until > $1) AS "orchLocked",
            (SELECT count(*) FROM ${q}.worker_queue WHERE visible_at_ms > $1) AS "workDelayed",
            (SELECT count(*) FROM ${q}.worker_queue WHERE lock_token IS NOT NULL AND locked_until > $1) AS "workLocked",
            (SELECT count(*) FROM ${q}.sessions WHERE locked_until > $1) AS "sessionsActive",
            (SELECT count(*) FROM ${q}.sessions) AS "sessionsTotal"`,
    [nowMs],
  );
  const row = rows[0]!;
  return {
    orchDelayed: Number(row.orchDelayed),
    orchLocked: Number(row.orchLocked),
    workDelayed: Number(row.workDelayed),
    workLocked: Number(row.workLocked),
    sessionsActive: Number(row.sessionsActive),
    sessionsTotal: Number(row.sessionsTotal),
  };
}

export function queuesCommand(ctx: RunContext): Command {
  const command = new Command("queues").description(
    "Queue depths (orchestrator and worker: ready, delayed, locked), sessions and instance counts",
  );
  withDatabaseOptions(command).action(async (flags: ConnectionFlags & OutputFlags) => {
    ctx.exitCode = await withStore(flags, ctx.io, async (store) => {
      const depths = await store.client.getQueueDepths();
      const metrics = await store.client.getSystemMetrics();
      const detail = await readBreakdown(store.pool, store.schema, Date.now());
      const result = {
        orchestratorQueue: {
          ready: depths.orchestratorQueue,
          delayed: detail?.orchDelayed ?? null,
          locked: detail?.orchLocked ?? null,
        },
        workerQueue: {
          ready: depths.workerQueue,
          delayed: detail?.workDelayed ?? null,
          locked: detail?.workLocked ?? null,
        },
        sessions: detail ? { active: detail.sessionsActive, total: detail.sessionsTotal } : null,
        instances: {
          total: metrics.totalInstances,
          running: metrics.runningInstances,
          completed: metrics.completedInstances,
          failed: metrics.failedInstances,
        },
      };
      if (flags.json) {
        printJson(ctx.io, result);
        return EXIT_OK;
      }
      const n = (v: number | null) => (v === null ? "n/a" : v);
      ctx.io.out(
        renderTable(
          ["queue", "ready", "delayed", "locked"],
          [
            [
              "orchestrator",
              result.orchestratorQueue.ready,
              n(result.orchestratorQueue.delayed),
              n(result.orchestratorQueue.locked),
            ],
            ["worker", result.workerQueue.ready, n(result.workerQueue.delayed), n(result.workerQueue.locked)],
          ],
        ),
      );
      ctx.io.out(
        result.sessions
          ? `sessions: ${result.sessions.active} active, ${result.sessions.total} total`
          : "delayed, locked and sessions: n/a (this role may not read the queue tables; run as the schema's owner)",
      );
      ctx.io.out(
        `instances: ${result.instances.total} total, ${result.instances.running} running, ` +
          `${result.instances.completed} completed, ${result.instances.failed} failed`,
      );
      return EXIT_OK;
    });
  });
  return command;
}
