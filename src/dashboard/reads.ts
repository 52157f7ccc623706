/**
 * The dashboard's reads: one call of one read-only SQL function each (sql/82_dashboard/, plus the
 * store's own get_kv_all_values and read_history_with_execution), so they work for a
 * least-privilege runtime role, through the provider's SqlFunctions (prepared statements, errors
 * classified like every other store call).
 */
import type { SqlFunctions } from "../provider/sql.ts";
import type { InstanceSort } from "./cursor.ts";

export interface InstanceFilters {
  status: string | null;
  name: string | null;
  createdFromMs: number | null;
  createdToMs: number | null;
  /** Instance id prefix (uses instances_id_prefix_idx). */
  idPrefix: string | null;
  /** Instance id substring (a scan of the instances matching the other filters). */
  idContains: string | null;
}

export interface InstanceRow {
  instanceId: string;
  orchestrationName: string;
  orchestrationVersion: string;
  status: string;
  createdAtMs: number;
  updatedAtMs: number;
  currentExecutionId: number;
  parentInstanceId: string | null;
}

export interface InstanceDetailRow extends InstanceRow {
  output: string | null;
  customStatus: string | null;
  customStatusVersion: number;
  /** The current execution's OrchestrationStarted event, as stored (JSON text). */
  startedEvent: string | null;
  /** The current execution's OrchestrationFailed event when it failed, as stored. */
  failedEvent: string | null;
}

export interface ExecutionRow {
  executionId: number;
  status: string;
  startedAtMs: number;
  completedAtMs: number | null;
  eventCount: number;
}

export interface TreeRow {
  instanceId: string;
  parentInstanceId: string | null;
  orchestrationName: string;
  status: string;
  depth: number;
}

export interface QueueDepthRow {
  orchestrator: { ready: number; delayed: number; locked: number; oldestReadyAgeMs: number | null };
  worker: { ready: number; delayed: number; locked: number; oldestReadyAgeMs: number | null };
  sessionsActive: number;
}

export interface MetricsRow {
  startMs: number;
  started: number;
  completed: number;
  failed: number;
  turns: number;
  turnP50Ms: number | null;
  turnP95Ms: number | null;
  activities: number;
  activityP50Ms: number | null;
  activityP95Ms: number | null;
}

/** `LIKE` pattern for ids starting with `prefix` (its own % _ and \ taken literally). */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

interface RawInstance {
  instance_id: string;
  orchestration_name: string;
  orchestration_version: string;
  status: string;
  created_at_ms: number;
  updated_at_ms: number;
  current_execution_id: number;
  parent_instance_id: string | null;
}

function instanceRow(r: RawInstance): InstanceRow {
  return {
    instanceId: r.instance_id,
    orchestrationName: r.orchestration_name,
    orchestrationVersion: r.orchestration_version,
    status: r.status,
    createdAtMs: r.created_at_ms,
    updatedAtMs: r.updated_at_ms,
    currentExecutionId: r.current_execution_id,
    parentInstanceId: r.parent_instance_id,
  };
}

export class DashboardReads {
  constructor(private readonly sql: SqlFunctions) {}

  private filterArgs(f: InstanceFilters): unknown[] {
    return [
      f.status,
      f.name,
      f.createdFromMs,
      f.createdToMs,
      f.idPrefix === null ? null : prefixPattern(f.idPrefix),
      f.idContains,
    ];
  }

  async listInstances(
    filters: InstanceFilters,
    sort: InstanceSort,
    after: { ms: number; id: string } | null,
    limit: number,
  ): Promise<InstanceRow[]> {
    const rows = await this.sql.call<RawInstance>("dashboard_list_instances", "dashboard_list_instances", [
      ...this.filterArgs(filters),
      sort,
      after?.ms ?? null,
      after?.id ?? null,
      limit,
    ]);
    return rows.map(instanceRow);
  }

  /** Matching instances, counted up to `cap` (a result equal to `cap` means "at least"). */
  async countInstances(filters: InstanceFilters, cap: number): Promise<number> {
    const row = await this.sql.callOne<{ dashboard_count_instances: number }>(
      "dashboard_count_instances",
      "dashboard_count_instances",
      [...this.filterArgs(filters), cap],
    );
    return row?.dashboard_count_instances ?? 0;
  }

  async orchestrationNames(limit: number): Promise<string[]> {
    const rows = await this.sql.call<{ dashboard_orchestration_names: string }>(
      "dashboard_orchestration_names",
      "dashboard_orchestration_names",
      [limit],
    );
    return rows.map((r) => r.dashboard_orchestration_names);
  }

  async instance(id: string): Promise<InstanceDetailRow | null> {
    const row = await this.sql.callOne<
      RawInstance & {
        output: string | null;
        custom_status: string | null;
        custom_status_version: number;
        started_event: string | null;
        failed_event: string | null;
      }
    >("dashboard_instance", "dashboard_instance", [id]);
    if (!row) return null;
    return {
      ...instanceRow(row),
      output: row.output,
      customStatus: row.custom_status,
      customStatusVersion: row.custom_status_version,
      startedEvent: row.started_event,
      failedEvent: row.failed_event,
    };
  }

  async executions(id: string, limit: number): Promise<ExecutionRow[]> {
    const rows = await this.sql.call<{
      execution_id: number;
      status: string;
      started_at_ms: number;
      completed_at_ms: number | null;
      event_count: number;
    }>("dashboard_executions", "dashboard_executions", [id, limit]);
    return rows.map((r) => ({
      executionId: r.execution_id,
      status: r.status,
      startedAtMs: r.started_at_ms,
      completedAtMs: r.completed_at_ms,
      eventCount: r.event_count,
    }));
  }

  async tree(id: string, maxNodes: number): Promise<TreeRow[]> {
    const rows = await this.sql.call<{
      instance_id: string;
      parent_instance_id: string | null;
      orchestration_name: string;
      status: string;
      depth: number;
    }>("dashboard_instance_tree", "dashboard_instance_tree", [id, maxNodes]);
    return rows.map((r) => ({
      instanceId: r.instance_id,
      parentInstanceId: r.parent_instance_id,
      orchestrationName: r.orchestration_name,
      status: r.status,
      depth: r.depth,
    }));
  }

  async kv(id: string): Promise<{ key: string; value: string }[]> {
    const rows = await this.sql.call<{ key: string; value: string }>(
      "get_kv_all_values",
      "get_kv_all_values",
      [id],
    );
    return rows.map((r) => ({ key: r.key, value: r.value })).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** One execution's history rows as stored, by event_id. */
  async historyRows(id: string, executionId: number): Promise<{ event_id: number; event_data: string }[]> {
    return await this.sql.call("read_history_with_execution", "read_history_with_execution", [
      id,
      executionId,
    ]);
  }

  async queueDepths(nowMs: number): Promise<QueueDepthRow> {
    const r = await this.sql.callOne<Record<string, number | null>>(
      "dashboard_queue_depths",
      "dashboard_queue_depths",
      [nowMs],
    );
    const n = (key: string) => Number(r?.[key] ?? 0);
    const age = (key: string) => (r?.[key] === null || r?.[key] === undefined ? null : Number(r[key]));
    return {
      orchestrator: {
        ready: n("orchestrator_ready"),
        delayed: n("orchestrator_delayed"),
        locked: n("orchestrator_locked"),
        oldestReadyAgeMs: age("orchestrator_oldest_ready_ms"),
      },
      worker: {
        ready: n("worker_ready"),
        delayed: n("worker_delayed"),
        locked: n("worker_locked"),
        oldestReadyAgeMs: age("worker_oldest_ready_ms"),
      },
      sessionsActive: n("sessions_active"),
    };
  }

  async metrics(fromMs: number, toMs: number, bucketMs: number): Promise<MetricsRow[]> {
    const rows = await this.sql.call<{
      bucket_start_ms: number;
      started: number;
      completed: number;
      failed: number;
      turns: number;
      turn_p50_ms: number | null;
      turn_p95_ms: number | null;
      activities: number;
      activity_p50_ms: number | null;
      activity_p95_ms: number | null;
    }>("dashboard_metrics", "dashboard_metrics", [fromMs, toMs, bucketMs]);
    return rows.map((r) => ({
      startMs: r.bucket_start_ms,
      started: r.started,
      completed: r.completed,
      failed: r.failed,
      turns: r.turns,
      turnP50Ms: r.turn_p50_ms,
      turnP95Ms: r.turn_p95_ms,
      activities: r.activities,
      activityP50Ms: r.activity_p50_ms,
      activityP95Ms: r.activity_p95_ms,
    }));
  }
}
