/**
 * ProviderAdmin on Postgres: listings, info, metrics, hierarchy, deletion, pruning, and the
 * per-instance stats. Each method is one call of one PL/pgSQL function (bulk operations loop per
 * root/instance, each its own transaction, and stream candidates instead of loading them all).
 */
import { ProviderError } from "./errors.ts";
import type { SqlFunctions } from "./sql.ts";
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

const todo = (op: string): never => {
  throw ProviderError.permanent(op, "not implemented yet");
};

export class PostgresAdmin implements ProviderAdmin {
  constructor(private readonly sql: SqlFunctions) {}

  async getInstanceStats(_instance: string): Promise<SystemStats | null> {
    return todo("get_instance_stats");
  }
  async listInstances(): Promise<string[]> {
    return todo("list_instances");
  }
  async listInstancesByStatus(_status: string): Promise<string[]> {
    return todo("list_instances_by_status");
  }
  async listExecutions(_instance: string): Promise<number[]> {
    return todo("list_executions");
  }
  async readHistoryWithExecutionId(_instance: string, _executionId: number): Promise<Event[]> {
    return todo("read_history_with_execution_id");
  }
  async readHistory(_instance: string): Promise<Event[]> {
    return todo("read_history");
  }
  async latestExecutionId(_instance: string): Promise<number> {
    return todo("latest_execution_id");
  }
  async getInstanceInfo(_instance: string): Promise<InstanceInfo> {
    return todo("get_instance_info");
  }
  async getExecutionInfo(_instance: string, _executionId: number): Promise<ExecutionInfo> {
    return todo("get_execution_info");
  }
  async getSystemMetrics(): Promise<SystemMetrics> {
    return todo("get_system_metrics");
  }
  async getQueueDepths(): Promise<QueueDepths> {
    return todo("get_queue_depths");
  }
  async listChildren(_instanceId: string): Promise<string[]> {
    return todo("list_children");
  }
  async getParentId(_instanceId: string): Promise<string | null> {
    return todo("get_parent_id");
  }
  async deleteInstancesAtomic(_ids: readonly string[], _force: boolean): Promise<DeleteInstanceResult> {
    return todo("delete_instances_atomic");
  }
  async getInstanceTree(_instanceId: string): Promise<InstanceTree> {
    return todo("get_instance_tree");
  }
  async deleteInstance(_instanceId: string, _force: boolean): Promise<DeleteInstanceResult> {
    return todo("delete_instance");
  }
  async deleteInstanceBulk(_filter: InstanceFilter): Promise<DeleteInstanceResult> {
    return todo("delete_instance_bulk");
  }
  async pruneExecutions(_instanceId: string, _options: PruneOptions): Promise<PruneResult> {
    return todo("prune_executions");
  }
  async pruneExecutionsBulk(_filter: InstanceFilter, _options: PruneOptions): Promise<PruneResult> {
    return todo("prune_executions_bulk");
  }
}
