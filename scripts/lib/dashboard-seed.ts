/**
 * Synthetic dashboard data written straight into a migrated schema's tables with generate_series
 * (as the schema's owner): `count` instances created one every `spacingMs` up to `nowMs`, spread
 * over eight orchestration names and three statuses, the newest hour of them with a four-event
 * history (start, one activity, completion), and optionally one instance with a long history of
 * activity pairs. Used by scripts/bench-dashboard.ts and test/dashboard/api.test.ts; the runtime's
 * own end-to-end path is exercised by the tests that start real orchestrations.
 */
import type pg from "pg";
import { quoteSchema } from "../../src/migrate/migrations.ts";

export interface SeedOptions {
  count: number;
  nowMs: number;
  /** Time between two instances' creation. Default 25 000 ms (100 000 instances: ~29 days). */
  spacingMs?: number;
  /** Also write `bigHistory.id` with `bigHistory.events` history events (at least 2). */
  bigHistory?: { id: string; events: number };
}

export const SEED_NAMES = ["Billing", "Checkout", "Email", "Export", "Import", "Refund", "Report", "Sync"];

/** Instance n's id: "inst-" and six digits, so ids sort like their numbers. */
export const seedId = (n: number) => `inst-${String(n).padStart(6, "0")}`;

/** Instance n's status: 3 % Failed, 12 % Running, the rest Completed. */
export function seedStatus(n: number): string {
  const r = n % 100;
  return r < 3 ? "Failed" : r < 15 ? "Running" : "Completed";
}

const envelope = (id: string, eventId: string, source: string, at: string) =>
  `'{"event_id":' || ${eventId} || ',"source_event_id":' || ${source} || ',"instance_id":"' || ${id} ||
   '","execution_id":1,"timestamp_ms":' || ${at} || ',"duroxide_version":"0.1.32",'`;

export async function seedDashboard(pool: pg.Pool, schema: string, options: SeedOptions): Promise<void> {
  const q = quoteSchema(schema);
  const spacing = options.spacingMs ?? 25_000;
  const params = [options.count, options.nowMs, spacing, SEED_NAMES];
  // n = 0 is the oldest; instance n was created at now - (count - 1 - n) * spacing.
  const series = `generate_series(0, $1::int - 1) AS n,
                  LATERAL (SELECT $2::bigint - ($1::int - 1 - n)::bigint * $3::bigint AS at,
                                  'inst-' || lpad(n::text, 6, '0') AS id,
                                  CASE WHEN n % 100 < 3 THEN 'Failed' WHEN n % 100 < 15 THEN 'Running'
                                       ELSE 'Completed' END AS status) s`;
  await pool.query(
    `INSERT INTO ${q}.instances (instance_id, orchestration_name, orchestration_version, current_execution_id,
                                 created_at_ms, updated_at_ms)
     SELECT s.id, ($4::text[])[1 + n % 8], '1.0.0', 1, s.at, s.at + 1500 FROM ${series}`,
    params,
  );
  await pool.query(
    `INSERT INTO ${q}.executions (instance_id, execution_id, status, output, started_at_ms, completed_at_ms)
     SELECT s.id, 1, s.status, CASE WHEN s.status = 'Completed' THEN '"ok"' END, s.at,
            CASE WHEN s.status <> 'Running' THEN s.at + 1500 END
       FROM ${series}`,
    params.slice(0, 3),
  );
  // The last hour's instances get a history: started, activity scheduled, its result, the end.
  await pool.query(
    `INSERT INTO ${q}.history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms)
     SELECT s.id, 1, e.event_id, e.type, e.data, e.acked
       FROM ${series},
       LATERAL (VALUES
         (1, 'OrchestrationStarted', s.at,
          ${envelope("s.id", "1", "'null'", "s.at")} || '"type":"OrchestrationStarted","name":"' ||
            ($4::text[])[1 + n % 8] || '","version":"1.0.0","input":"{}","parent_instance":null,"parent_id":null}'),
         (2, 'ActivityScheduled', s.at,
          ${envelope("s.id", "2", "'null'", "(s.at - 5)")} || '"type":"ActivityScheduled","name":"Step","input":"1"}'),
         (3, CASE WHEN s.status = 'Failed' THEN 'ActivityFailed' ELSE 'ActivityCompleted' END, s.at + 1000,
          ${envelope("s.id", "3", "'2'", "(s.at + 990)")} ||
            CASE WHEN s.status = 'Failed'
                 THEN '"type":"ActivityFailed","details":{"Application":{"kind":"ActivityFailed","message":"boom","retryable":false}}}'
                 ELSE '"type":"ActivityCompleted","result":"2"}' END),
         (4, CASE WHEN s.status = 'Failed' THEN 'OrchestrationFailed' ELSE 'OrchestrationCompleted' END, s.at + 1500,
          ${envelope("s.id", "4", "'null'", "(s.at + 1490)")} ||
            CASE WHEN s.status = 'Failed'
                 THEN '"type":"OrchestrationFailed","details":{"Application":{"kind":"OrchestrationFailed","message":"boom","retryable":false}}}'
                 ELSE '"type":"OrchestrationCompleted","output":"\\"ok\\""}' END)
       ) AS e(event_id, type, acked, data)
      WHERE s.at >= $2::bigint - 3600000 AND s.status <> 'Running'`,
    params,
  );
  if (options.bigHistory) await seedBigHistory(pool, q, options.bigHistory, options.nowMs);
}

/**
 * One Running instance whose first execution has `events` events: OrchestrationStarted, then
 * ActivityScheduled/ActivityCompleted pairs (every tenth one failed), acked one pair a second.
 */
async function seedBigHistory(
  pool: pg.Pool,
  q: string,
  big: { id: string; events: number },
  nowMs: number,
): Promise<void> {
  const start = nowMs - big.events * 1000;
  await pool.query(
    `INSERT INTO ${q}.instances (instance_id, orchestration_name, orchestration_version, current_execution_id,
                                 created_at_ms, updated_at_ms)
     VALUES ($1, 'LongRunner', '1.0.0', 1, $2, $3)`,
    [big.id, start, nowMs],
  );
  await pool.query(
    `INSERT INTO ${q}.executions (instance_id, execution_id, status, started_at_ms) VALUES ($1, 1, 'Running', $2)`,
    [big.id, start],
  );
  await pool.query(
    `INSERT INTO ${q}.history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms)
     SELECT $1, 1, 1, 'OrchestrationStarted',
            ${envelope("$1::text", "1", "'null'", "$2::bigint")} ||
            '"type":"OrchestrationStarted","name":"LongRunner","version":"1.0.0","input":"{}","parent_instance":null,"parent_id":null}',
            $2::bigint
     UNION ALL
     SELECT $1, 1, k, t.type,
            ${envelope("$1::text", "k", "CASE WHEN k % 2 = 0 THEN 'null' ELSE (k - 1)::text END", "t.at")} ||
            CASE t.type WHEN 'ActivityScheduled' THEN '"type":"ActivityScheduled","name":"Step","input":"' || k || '"}'
                        WHEN 'ActivityCompleted' THEN '"type":"ActivityCompleted","result":"' || k || '"}'
                        ELSE '"type":"ActivityFailed","details":{"Application":{"kind":"ActivityFailed","message":"step failed","retryable":false}}}' END,
            t.at
       FROM generate_series(2, $3::int) AS k,
       LATERAL (SELECT CASE WHEN k % 2 = 0 THEN 'ActivityScheduled'
                            WHEN k % 20 = 1 THEN 'ActivityFailed' ELSE 'ActivityCompleted' END AS type,
                       $2::bigint + k * 500 AS at) t`,
    [big.id, start, big.events],
  );
}
