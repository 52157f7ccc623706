/**
 * The after-run correctness check: every finished instance's history is well formed and nothing
 * is left behind in the store. Any violation is reported and makes the stress run exit non-zero.
 */
import type pg from "pg";
import { quoteSchema } from "../migrate/migrations.ts";
import type { Event, Provider } from "../provider/types.ts";

export interface CorrectnessReport {
  ok: boolean;
  instancesChecked: number;
  executionsChecked: number;
  violations: string[];
}

const TERMINAL = new Set(["OrchestrationCompleted", "OrchestrationFailed", "OrchestrationContinuedAsNew"]);
/** Scheduling event type → the event types that complete it. */
const COMPLETIONS: Record<string, string[]> = {
  ActivityScheduled: ["ActivityCompleted", "ActivityFailed"],
  TimerCreated: ["TimerFired"],
  SubOrchestrationScheduled: ["SubOrchestrationCompleted", "SubOrchestrationFailed"],
};
const COMPLETION_TYPES = new Set(Object.values(COMPLETIONS).flat());

/** Check one execution's history; returns the problems found. */
export function checkExecutionHistory(label: string, events: Event[], isLast: boolean): string[] {
  const problems: string[] = [];
  events.forEach((e, i) => {
    if (e.event_id !== i + 1)
      problems.push(`${label}: event ids not contiguous at position ${i + 1} (found ${e.event_id})`);
  });
  const started = events.filter((e) => e.type === "OrchestrationStarted");
  if (started.length !== 1 || events[0]?.type !== "OrchestrationStarted") {
    problems.push(`${label}: expected exactly one OrchestrationStarted at event 1, found ${started.length}`);
  }
  const terminal = events.filter((e) => TERMINAL.has(e.type));
  if (terminal.length !== 1 || !TERMINAL.has(events.at(-1)?.type ?? "")) {
    problems.push(`${label}: expected exactly one terminal event, last; found ${terminal.length}`);
  } else if (!isLast && terminal[0]!.type !== "OrchestrationContinuedAsNew") {
    problems.push(
      `${label}: an earlier execution ended with ${terminal[0]!.type}, not OrchestrationContinuedAsNew`,
    );
  }
  const scheduled = new Map<number, Event>();
  const completedCount = new Map<number, number>();
  for (const e of events) {
    if (e.type in COMPLETIONS) scheduled.set(e.event_id, e);
    if (COMPLETION_TYPES.has(e.type)) {
      const source = e.source_event_id ?? -1;
      const schedule = scheduled.get(source);
      if (!schedule || !COMPLETIONS[schedule.type]!.includes(e.type)) {
        problems.push(`${label}: ${e.type} #${e.event_id} completes no open schedule (source ${source})`);
      }
      completedCount.set(source, (completedCount.get(source) ?? 0) + 1);
    }
  }
  const endedNormally =
    events.at(-1)?.type === "OrchestrationCompleted" || events.at(-1)?.type === "OrchestrationContinuedAsNew";
  for (const [id, schedule] of scheduled) {
    const n = completedCount.get(id) ?? 0;
    if (n > 1) problems.push(`${label}: ${schedule.type} #${id} completed ${n} times`);
    if (n === 0 && endedNormally && schedule.type === "ActivityScheduled") {
      problems.push(`${label}: ActivityScheduled #${id} never completed`);
    }
  }
  return problems;
}

/** Check every listed instance through the provider, and the store's tables for leftovers. */
export async function checkCorrectness(
  provider: Provider,
  pool: pg.Pool,
  schema: string,
  instanceIds: Iterable<string>,
): Promise<CorrectnessReport> {
  const admin = provider.asManagementCapability();
  if (!admin) throw new Error("the correctness check needs a provider with management capability");
  const violations: string[] = [];
  let instancesChecked = 0;
  let executionsChecked = 0;
  const checked = [...instanceIds];
  for (const id of checked) {
    instancesChecked++;
    const executions = await admin.listExecutions(id);
    if (executions.length === 0) violations.push(`${id}: no executions recorded`);
    for (const [i, executionId] of executions.entries()) {
      executionsChecked++;
      try {
        const events = await provider.readWithExecution(id, executionId);
        violations.push(
          ...checkExecutionHistory(`${id}#${executionId}`, events, i === executions.length - 1),
        );
      } catch (error) {
        violations.push(`${id}#${executionId}: history unreadable: ${(error as Error).message}`);
      }
    }
  }
  const q = quoteSchema(schema);
  // A top-level instance the run does not know of would be a start that committed while the
  // harness believed it failed: lost to the check, so a violation in itself.
  const { rows } = await pool.query<{ locks: string; orch: string; work: string; untracked: string }>(
    `SELECT (SELECT count(*) FROM ${q}.instance_locks)::text AS locks,
            (SELECT count(*) FROM ${q}.orchestrator_queue)::text AS orch,
            (SELECT count(*) FROM ${q}.worker_queue)::text AS work,
            (SELECT count(*) FROM ${q}.instances
              WHERE parent_instance_id IS NULL AND NOT (instance_id = ANY($1::text[])))::text AS untracked`,
    [checked],
  );
  const left = rows[0]!;
  if (Number(left.untracked) > 0)
    violations.push(`${left.untracked} instance(s) in the store the run never tracked`);
  if (Number(left.locks) > 0) violations.push(`${left.locks} instance lock(s) left behind`);
  if (Number(left.orch) > 0) violations.push(`${left.orch} orchestrator queue row(s) left behind`);
  if (Number(left.work) > 0) violations.push(`${left.work} worker queue row(s) left behind`);
  return { ok: violations.length === 0, instancesChecked, executionsChecked, violations };
}
