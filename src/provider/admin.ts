/**
 * ProviderAdmin on Postgres: listings, info, metrics, hierarchy, deletion, pruning, and the
 * per-instance stats. Each method is one call of one PL/pgSQL function (migrations/0010–0012);
 * the bulk operations stream their candidates with a cursor and handle each root or instance in
 * its own transaction, so memory stays flat however many match.
 */
import Cursor from "pg-cursor";
import { ProviderError, toProviderError } from "./errors.ts";
import { decodeHistoryStrict, type HistoryRow } from "./orchestration-store.ts";
import { numericTypes, type SqlFunctions } from "./sql.ts";
import type {
  DeleteInstanceResult,
  Event,
  ExecutionInfo,
  InstanceFilter,
  InstanceInfo,
  InstanceTree,
  ProviderAdmin,
  PruneOptions,
  PruneResult,
  QueueDepths,
  SystemMetrics,
  SystemStats,
} from "./types.ts";

const DEFAULT_BULK_LIMIT = 1000;
/** Candidates read from the cursor at a time. */
const CURSOR_BATCH = 200;

interface DeleteRow {
  instances_deleted: number;
  executions_deleted: number;
  events_deleted: number;
  queue_messages_deleted: number;
}

const emptyDelete = (): DeleteInstanceResult => ({
  instancesDeleted: 0,
  executionsDeleted: 0,
  eventsDeleted: 0,
  queueMessagesDeleted: 0,
});

function toDeleteResult(row: DeleteRow | undefined): DeleteInstanceResult {
  if (!row) return emptyDelete();
  return {
    instancesDeleted: row.instances_deleted,
    executionsDeleted: row.executions_deleted,
    eventsDeleted: row.events_deleted,
    queueMessagesDeleted: row.queue_messages_deleted,
  };
}

function addDelete(total: DeleteInstanceResult, part: DeleteInstanceResult): void {
  total.instancesDeleted += part.instancesDeleted;
  total.executionsDeleted += part.executionsDeleted;
  total.eventsDeleted += part.eventsDeleted;
  total.queueMessagesDeleted += part.queueMessagesDeleted;
}

export class PostgresAdmin implements ProviderAdmin {
  constructor(private readonly sql: SqlFunctions) {}

  async getInstanceStats(instance: string): Promise<SystemStats | null> {
    const row = await this.sql.callOne<{
      history_event_count: number;
      history_size_bytes: number;
      queue_pending_count: number;
      kv_user_key_count: number;
      kv_total_value_bytes: number;
    }>("get_instance_stats", "get_instance_stats", [instance]);
    if (!row) return null;
    return {
      historyEventCount: row.history_event_count,
      historySizeBytes: row.history_size_bytes,
      queuePendingCount: row.queue_pending_count,
      kvUserKeyCount: row.kv_user_key_count,
      kvTotalValueBytes: row.kv_total_value_bytes,
    };
  }

  async listInstances(): Promise<string[]> {
    const rows = await this.sql.call<{ list_instances: string }>("list_instances", "list_instances", []);
    return rows.map((r) => r.list_instances);
  }

  async listInstancesByStatus(status: string): Promise<string[]> {
    const rows = await this.sql.call<{ list_instances_by_status: string }>(
      "list_instances_by_status",
      "list_instances_by_status",
      [status],
    );
    return rows.map((r) => r.list_instances_by_status);
  }

  async listExecutions(instance: string): Promise<number[]> {
    const rows = await this.sql.call<{ list_executions: number }>("list_executions", "list_executions", [
      instance,
    ]);
    return rows.map((r) => r.list_executions);
  }

  async readHistoryWithExecutionId(instance: string, executionId: number): Promise<Event[]> {
    const rows = await this.sql.call<HistoryRow>(
      "read_history_with_execution_id",
      "read_history_with_execution",
      [instance, executionId],
    );
    return decodeHistoryStrict("read_history_with_execution_id", instance, rows);
  }

  async readHistory(instance: string): Promise<Event[]> {
    return await this.readHistoryWithExecutionId(instance, await this.latestExecutionId(instance));
  }

  async latestExecutionId(instance: string): Promise<number> {
    const row = await this.sql.callOne<{ latest_execution_id: number }>(
      "latest_execution_id",
      "latest_execution_id",
      [instance],
    );
    return row!.latest_execution_id;
  }

  async getInstanceInfo(instance: string): Promise<InstanceInfo> {
    const row = await this.sql.callOne<{
      instance_id: string;
      orchestration_name: string;
      orchestration_version: string;
      current_execution_id: number;
      status: string;
      output: string | null;
      created_at_ms: number;
      updated_at_ms: number;
      parent_instance_id: string | null;
    }>("get_instance_info", "get_instance_info", [instance]);
    if (!row) throw ProviderError.permanent("get_instance_info", `Instance ${instance} not found`);
    return {
      instanceId: row.instance_id,
      orchestrationName: row.orchestration_name,
      orchestrationVersion: row.orchestration_version,
      currentExecutionId: row.current_execution_id,
      status: row.status,
      output: row.output,
      createdAt: row.created_at_ms,
      updatedAt: row.updated_at_ms,
      parentInstanceId: row.parent_instance_id,
    };
  }

  async getExecutionInfo(instance: string, executionId: number): Promise<ExecutionInfo> {
    const row = await this.sql.callOne<{
      execution_id: number;
      status: string;
      output: string | null;
      started_at_ms: number;
      completed_at_ms: number | null;
      event_count: number;
    }>("get_execution_info", "get_execution_info", [instance, executionId]);
    if (!row)
      throw ProviderError.permanent(
        "get_execution_info",
        `Execution ${executionId} of ${instance} not found`,
      );
    return {
      executionId: row.execution_id,
      status: row.status,
      output: row.output,
      startedAt: row.started_at_ms,
      completedAt: row.completed_at_ms,
      eventCount: row.event_count,
    };
  }

  async getSystemMetrics(): Promise<SystemMetrics> {
    const row = await this.sql.callOne<{
      total_instances: number;
      total_executions: number;
      running_instances: number;
      completed_instances: number;
      failed_instances: number;
      total_events: number;
    }>("get_system_metrics", "get_system_metrics", []);
    return {
      totalInstances: row?.total_instances ?? 0,
      totalExecutions: row?.total_executions ?? 0,
      runningInstances: row?.running_instances ?? 0,
      completedInstances: row?.completed_instances ?? 0,
      failedInstances: row?.failed_instances ?? 0,
      totalEvents: row?.total_events ?? 0,
    };
  }

  async getQueueDepths(): Promise<QueueDepths> {
    const row = await this.sql.callOne<{ orchestrator_queue: number; worker_queue: number }>(
      "get_queue_depths",
      "get_queue_depths",
      [this.sql.now()],
    );
    return {
      orchestratorQueue: row?.orchestrator_queue ?? 0,
      workerQueue: row?.worker_queue ?? 0,
      timerQueue: 0,
    };
  }

  async listChildren(instanceId: string): Promise<string[]> {
    const rows = await this.sql.call<{ list_children: string }>("list_children", "list_children", [
      instanceId,
    ]);
    return rows.map((r) => r.list_children);
  }

  async getParentId(instanceId: string): Promise<string | null> {
    const row = await this.sql.callOne<{ get_parent_id: string | null }>("get_parent_id", "get_parent_id", [
      instanceId,
    ]);
    return row?.get_parent_id ?? null;
  }

  async deleteInstancesAtomic(ids: readonly string[], force: boolean): Promise<DeleteInstanceResult> {
    if (ids.length === 0) return emptyDelete();
    const row = await this.sql.callOne<DeleteRow>("delete_instances_atomic", "delete_instances_atomic", [
      [...ids],
      force,
    ]);
    return toDeleteResult(row);
  }

  async getInstanceTree(instanceId: string): Promise<InstanceTree> {
    const rows = await this.sql.call<{ get_instance_tree: string }>(
      "get_instance_tree",
      "get_instance_tree",
      [instanceId],
    );
    return { rootId: instanceId, allIds: rows.map((r) => r.get_instance_tree) };
  }

  async deleteInstance(instanceId: string, force: boolean): Promise<DeleteInstanceResult> {
    const row = await this.sql.callOne<DeleteRow>("delete_instance", "delete_instance", [instanceId, force]);
    return toDeleteResult(row);
  }

  async deleteInstanceBulk(filter: InstanceFilter): Promise<DeleteInstanceResult> {
    const total = emptyDelete();
    if (filter.instanceIds && filter.instanceIds.length === 0) return total;
    await this.forEachCandidateBatch("delete_instance_bulk", "delete_candidates", filter, async (roots) => {
      // Each batch of roots is one call (one commit), each root with its tree in its own
      // subtransaction; the bulk call as a whole is not atomic.
      const row = await this.sql.callOne<DeleteRow>("delete_instance_bulk", "delete_instance_trees", [roots]);
      addDelete(total, toDeleteResult(row));
    });
    return total;
  }

  async pruneExecutions(instanceId: string, options: PruneOptions): Promise<PruneResult> {
    const row = await this.sql.callOne<{ executions_deleted: number; events_deleted: number }>(
      "prune_executions",
      "prune_executions",
      [instanceId, options.keepLast ?? null, options.completedBefore ?? null],
    );
    return {
      instancesProcessed: 1,
      executionsDeleted: row?.executions_deleted ?? 0,
      eventsDeleted: row?.events_deleted ?? 0,
    };
  }

  async pruneExecutionsBulk(filter: InstanceFilter, options: PruneOptions): Promise<PruneResult> {
    const total: PruneResult = { instancesProcessed: 0, executionsDeleted: 0, eventsDeleted: 0 };
    if (filter.instanceIds && filter.instanceIds.length === 0) return total;
    await this.forEachCandidateBatch("prune_executions_bulk", "prune_candidates", filter, async (ids) => {
      for (const id of ids) {
        const part = await this.pruneExecutions(id, options);
        total.instancesProcessed += part.instancesProcessed;
        total.executionsDeleted += part.executionsDeleted;
        total.eventsDeleted += part.eventsDeleted;
      }
    });
    return total;
  }

  /**
   * Stream the ids a candidate function selects for `filter` through a cursor on a dedicated
   * connection, handing each batch to `eachBatch` (which works on other connections).
   */
  private async forEachCandidateBatch(
    operation: string,
    candidatesFn: "delete_candidates" | "prune_candidates",
    filter: InstanceFilter,
    eachBatch: (ids: string[]) => Promise<void>,
  ): Promise<void> {
    const client = await this.sql.pool.connect().catch((error: unknown) => {
      throw toProviderError(operation, error);
    });
    try {
      const cursor = client.query(
        new Cursor<{ id: string }>(
          `SELECT c AS id FROM ${this.sql.qualified(candidatesFn)}($1, $2, $3) AS c`,
          [filter.instanceIds ?? null, filter.completedBefore ?? null, filter.limit ?? DEFAULT_BULK_LIMIT],
          { types: numericTypes },
        ),
      );
      try {
        for (;;) {
          const batch = await cursor.read(CURSOR_BATCH);
          if (batch.length === 0) break;
          await eachBatch(batch.map((row) => row.id));
        }
      } finally {
        await cursor.close();
      }
    } catch (error) {
      throw toProviderError(operation, error);
    } finally {
      client.release();
    }
  }
}
