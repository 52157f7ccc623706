/**
 * GET /api/instances/:id: the instance page's data (docs/dashboard.md, "API"): the instance and
 * its current execution (input, output or error, custom status), its KV entries, its newest
 * executions and its family tree. 404 when the instance is unknown.
 */
import { decodeEvent } from "../../provider/codec.ts";
import type { ErrorDetails } from "../../provider/types.ts";
import { displayError } from "../../runtime/errors.ts";
import type { DashboardApp, DashboardDeps } from "../deps.ts";
import { HttpError } from "../http-error.ts";
import type { TreeRow } from "../reads.ts";

/** Executions listed on the page (the newest ones); older ones stay reachable through ?execution=. */
export const EXECUTIONS_SHOWN = 200;
/** Nodes of the family tree returned at most. */
export const TREE_NODES = 500;

export interface TreeNode {
  instanceId: string;
  status: string;
  orchestrationName: string;
  children: TreeNode[];
}

/** The rows of dashboard_instance_tree (root first, breadth first) as nested nodes. */
export function nestTree(rows: readonly TreeRow[]): TreeNode | null {
  const nodes = new Map<string, TreeNode>();
  let root: TreeNode | null = null;
  for (const row of rows) {
    const node: TreeNode = {
      instanceId: row.instanceId,
      status: row.status,
      orchestrationName: row.orchestrationName,
      children: [],
    };
    nodes.set(row.instanceId, node);
    const parent = row.parentInstanceId === null ? undefined : nodes.get(row.parentInstanceId);
    if (row.depth === 0 || !parent) root ??= node;
    else parent.children.push(node);
  }
  return root;
}

/** A stored event's field, or null when the row is missing or does not decode. */
function eventField<T>(text: string | null, pick: (event: Record<string, unknown>) => T): T | null {
  if (text === null) return null;
  try {
    return pick(decodeEvent(text) as unknown as Record<string, unknown>);
  } catch {
    return null;
  }
}

export function registerInstance(app: DashboardApp, deps: DashboardDeps): void {
  app.get("/api/instances/:id", async (c) => {
    const id = c.req.param("id");
    const [info, kv, executions, tree] = await Promise.all([
      deps.reads.instance(id),
      deps.reads.kv(id),
      deps.reads.executions(id, EXECUTIONS_SHOWN),
      deps.reads.tree(id, TREE_NODES),
    ]);
    if (!info) throw new HttpError(404, `instance ${JSON.stringify(id)} not found`);
    const details = eventField(info.failedEvent, (e) => e.details as ErrorDetails);
    const failed = info.status === "Failed";
    return c.json({
      instanceId: info.instanceId,
      orchestrationName: info.orchestrationName,
      orchestrationVersion: info.orchestrationVersion,
      status: info.status,
      createdAtMs: info.createdAtMs,
      updatedAtMs: info.updatedAtMs,
      currentExecutionId: info.currentExecutionId,
      input: eventField(info.startedEvent, (e) => e.input as string),
      output: failed ? null : info.output,
      error: failed ? (details ? displayError(details) : info.output) : null,
      errorDetails: failed ? details : null,
      customStatus: info.customStatus,
      customStatusVersion: info.customStatusVersion,
      kv,
      executions,
      parentInstanceId: info.parentInstanceId,
      tree: nestTree(tree),
      treeTruncated: tree.length >= TREE_NODES,
    });
  });
}
