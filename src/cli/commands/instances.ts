/**
 * `pg-durable instances list|show|history|cancel|raise|delete`: look at and act on orchestration
 * instances through the Client and the provider's admin API (so they work as a runtime role).
 */
import { Command } from "commander";
import type { Event, InstanceInfo } from "../../provider/types.ts";
import { type Store, withStore } from "../connection.ts";
import { CommandFailure, EXIT_CODES_HELP, EXIT_OK, type RunContext, UsageError } from "../io.ts";
import { type ConnectionFlags, integerArg, type OutputFlags, withDatabaseOptions } from "../options.ts";
import { clip, isoTime, printJson, renderRecord, renderTable } from "../output.ts";

type Flags = ConnectionFlags & OutputFlags;

const STATUSES = ["Running", "Completed", "Failed", "ContinuedAsNew"] as const;

function statusArg(value: string): string {
  const match = STATUSES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!match) throw new UsageError(`--status must be one of ${STATUSES.join(", ")} (got "${value}")`);
  return match;
}

/** The instance's info, or a clear "not found" failure. */
async function instanceInfo(store: Store, id: string): Promise<InstanceInfo> {
  try {
    return await store.admin.getInstanceInfo(id);
  } catch (error) {
    if (error instanceof Error && /not found/i.test(error.message)) {
      throw new CommandFailure(`instance "${id}" not found in schema "${store.schema}"`);
    }
    throw error;
  }
}

function instanceJson(info: InstanceInfo) {
  return {
    instanceId: info.instanceId,
    orchestrationName: info.orchestrationName,
    orchestrationVersion: info.orchestrationVersion,
    status: info.status,
    currentExecutionId: info.currentExecutionId,
    createdAt: isoTime(info.createdAt),
    updatedAt: isoTime(info.updatedAt),
    parentInstanceId: info.parentInstanceId,
  };
}

export function instancesCommand(ctx: RunContext): Command {
  const instances = new Command("instances")
    .description("List, inspect, cancel, signal and delete orchestration instances")
    .addHelpText("after", EXIT_CODES_HELP);
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      ctx.exitCode = await fn(...args);
    };

  withDatabaseOptions(
    instances
      .command("list")
      .description("List instances, newest first")
      .option(
        "--status <status>",
        `only instances whose current execution has this status (${STATUSES.join(", ")})`,
      )
      .option("--name <orchestration>", "only instances of this orchestration")
      .option("--limit <n>", "at most this many", integerArg("--limit", 1), 100),
  ).action(act((flags: Flags & { status?: string; name?: string; limit: number }) => list(ctx, flags)));

  withDatabaseOptions(
    instances
      .command("show")
      .description("Status, output or error, custom status, executions, parent and children of one instance")
      .argument("<id>", "instance id"),
  ).action(act((id: string, flags: Flags) => show(ctx, id, flags)));

  withDatabaseOptions(
    instances
      .command("history")
      .description("The events of one execution of an instance (default: the current one)")
      .argument("<id>", "instance id")
      .option("--execution <n>", "execution id", integerArg("--execution", 1)),
  ).action(act((id: string, flags: Flags & { execution?: number }) => history(ctx, id, flags)));

  withDatabaseOptions(
    instances
      .command("cancel")
      .description("Ask a running instance (and its sub-orchestrations) to cancel")
      .argument("<id>", "instance id")
      .option("--reason <text>", "reason recorded with the cancellation", "cancelled with pg-durable CLI"),
  ).action(act((id: string, flags: Flags & { reason: string }) => cancel(ctx, id, flags)));

  withDatabaseOptions(
    instances
      .command("raise")
      .description("Raise an external event on an instance")
      .argument("<id>", "instance id")
      .argument("<event>", "event name")
      .argument("[json]", "event data as JSON (default: null)"),
  ).action(
    act((id: string, event: string, json: string | undefined, flags: Flags) =>
      raise(ctx, id, event, json, flags),
    ),
  );

  withDatabaseOptions(
    instances
      .command("delete")
      .description("Delete an instance with its sub-orchestrations, history and queued messages")
      .argument("<id>", "instance id")
      .option("--force", "delete even if it is still running", false),
  ).action(act((id: string, flags: Flags & { force: boolean }) => remove(ctx, id, flags)));

  return instances;
}

async function list(ctx: RunContext, flags: Flags & { status?: string; name?: string; limit: number }) {
  const status = flags.status === undefined ? undefined : statusArg(flags.status);
  return await withStore(flags, ctx.io, async (store) => {
    const ids =
      status === undefined
        ? await store.admin.listInstances()
        : await store.admin.listInstancesByStatus(status);
    const found: InstanceInfo[] = [];
    let truncated = false;
    for (const id of ids) {
      const info = await store.admin.getInstanceInfo(id).catch(() => null); // deleted meanwhile
      if (!info || (flags.name !== undefined && info.orchestrationName !== flags.name)) continue;
      if (found.length === flags.limit) {
        truncated = true;
        break;
      }
      found.push(info);
    }
    if (flags.json) {
      printJson(ctx.io, { instances: found.map(instanceJson), truncated });
      return EXIT_OK;
    }
    ctx.io.out(
      renderTable(
        ["instance", "orchestration", "version", "status", "execution", "created", "updated", "parent"],
        found.map((i) => [
          i.instanceId,
          i.orchestrationName,
          i.orchestrationVersion,
          i.status,
          i.currentExecutionId,
          isoTime(i.createdAt),
          isoTime(i.updatedAt),
          i.parentInstanceId,
        ]),
      ),
    );
    ctx.io.out(
      `${found.length} instance(s)${truncated ? ` (more exist: raise --limit ${flags.limit})` : ""}`,
    );
    return EXIT_OK;
  });
}

async function show(ctx: RunContext, id: string, flags: Flags) {
  return await withStore(flags, ctx.io, async (store) => {
    const info = await instanceInfo(store, id);
    const status = await store.client.getStatus(id);
    const executions = await Promise.all(
      (await store.admin.listExecutions(id)).map((n) => store.admin.getExecutionInfo(id, n)),
    );
    const children = await store.admin.listChildren(id);
    const result = {
      ...instanceJson(info),
      output: status.status === "Completed" ? status.output : null,
      error: status.status === "Failed" ? status.error : null,
      customStatus: status.status === "NotFound" ? null : status.customStatus,
      customStatusVersion: status.status === "NotFound" ? 0 : status.customStatusVersion,
      children,
      executions: executions.map((e) => ({
        executionId: e.executionId,
        status: e.status,
        output: e.output,
        startedAt: isoTime(e.startedAt),
        completedAt: isoTime(e.completedAt),
        eventCount: e.eventCount,
      })),
    };
    if (flags.json) {
      printJson(ctx.io, result);
      return EXIT_OK;
    }
    ctx.io.out(
      renderRecord([
        ["instance", result.instanceId],
        ["orchestration", `${result.orchestrationName} ${result.orchestrationVersion}`],
        ["status", result.status],
        ["output", result.output],
        ["error", result.error],
        ["custom status", result.customStatus],
        ["current execution", result.currentExecutionId],
        ["created", result.createdAt],
        ["updated", result.updatedAt],
        ["parent", result.parentInstanceId],
        ["children", children.join(", ")],
      ]),
    );
    ctx.io.out(
      renderTable(
        ["execution", "status", "started", "completed", "events", "output"],
        result.executions.map((e) => [
          e.executionId,
          e.status,
          e.startedAt,
          e.completedAt,
          e.eventCount,
          clip(e.output),
        ]),
      ),
    );
    return EXIT_OK;
  });
}

/** The interesting payload of an event, for one table cell. */
function eventDetail(event: Event): string {
  const {
    event_id,
    source_event_id,
    instance_id,
    execution_id,
    timestamp_ms,
    duroxide_version,
    type,
    ...rest
  } = event;
  return clip(JSON.stringify(rest), 80);
}

async function history(ctx: RunContext, id: string, flags: Flags & { execution?: number }) {
  return await withStore(flags, ctx.io, async (store) => {
    const info = await instanceInfo(store, id);
    const executionId = flags.execution ?? info.currentExecutionId;
    const executions = await store.admin.listExecutions(id);
    if (!executions.includes(executionId)) {
      throw new CommandFailure(
        `instance "${id}" has no execution ${executionId} (it has ${executions.join(", ") || "none"})`,
      );
    }
    const events = await store.admin.readHistoryWithExecutionId(id, executionId);
    if (flags.json) {
      printJson(ctx.io, { instanceId: id, executionId, events });
      return EXIT_OK;
    }
    ctx.io.out(`instance ${id}, execution ${executionId}`);
    ctx.io.out(
      renderTable(
        ["event", "source", "type", "time", "detail"],
        events.map((e) => [e.event_id, e.source_event_id, e.type, isoTime(e.timestamp_ms), eventDetail(e)]),
      ),
    );
    return EXIT_OK;
  });
}

async function cancel(ctx: RunContext, id: string, flags: Flags & { reason: string }) {
  return await withStore(flags, ctx.io, async (store) => {
    const info = await instanceInfo(store, id);
    const running = info.status === "Running";
    // A finished instance is left alone by the runtime anyway; say so rather than pretend.
    if (running) await store.client.cancelInstance(id, flags.reason);
    if (flags.json) {
      printJson(ctx.io, {
        instanceId: id,
        cancelRequested: running,
        status: info.status,
        reason: flags.reason,
      });
    } else if (running) {
      ctx.io.out(`cancellation of ${id} requested (reason: ${flags.reason}); a runtime carries it out`);
    } else {
      ctx.io.out(`instance ${id} is ${info.status}: nothing to cancel`);
    }
    return EXIT_OK;
  });
}

async function raise(ctx: RunContext, id: string, event: string, json: string | undefined, flags: Flags) {
  let data: unknown = null;
  if (json !== undefined) {
    try {
      data = JSON.parse(json);
    } catch (error) {
      throw new UsageError(`the data for event "${event}" is not valid JSON: ${(error as Error).message}`);
    }
  }
  return await withStore(flags, ctx.io, async (store) => {
    const info = await instanceInfo(store, id);
    await store.client.raiseEvent(id, event, data);
    if (flags.json) {
      printJson(ctx.io, { instanceId: id, event, raised: true, status: info.status });
    } else {
      ctx.io.out(
        `raised event "${event}" on ${id}${info.status === "Running" ? "" : ` (it is ${info.status})`}`,
      );
    }
    return EXIT_OK;
  });
}

async function remove(ctx: RunContext, id: string, flags: Flags & { force: boolean }) {
  return await withStore(flags, ctx.io, async (store) => {
    await instanceInfo(store, id);
    let result: Awaited<ReturnType<Store["admin"]["deleteInstance"]>>;
    try {
      result = await store.client.deleteInstance(id, flags.force);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!flags.force && /is Running/.test(message)) {
        const detail = message.replace(/^delete_instance: /, "").replace(/ Use force=true to delete\.?$/, "");
        throw new CommandFailure(`cannot delete "${id}": ${detail} (cancel it first, or pass --force)`);
      }
      throw error;
    }
    if (flags.json) {
      printJson(ctx.io, { instanceId: id, ...result });
      return EXIT_OK;
    }
    ctx.io.out(
      `deleted ${id}: ${result.instancesDeleted} instance(s), ${result.executionsDeleted} execution(s), ` +
        `${result.eventsDeleted} event(s), ${result.queueMessagesDeleted} queued message(s)`,
    );
    return EXIT_OK;
  });
}
