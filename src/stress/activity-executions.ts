/**
 * Duplicate activity executions, counted inside the activity bodies: every stress activity
 * appends (instance, execution, activity id) to a log file of its process when it starts running.
 * A key logged twice is an activity that ran twice. The log is a plain file written with one
 * synchronous append per execution, so it survives a SIGKILLed runtime process (the chaos fault
 * that makes re-runs most likely); runtime processes find the directory in the environment they
 * inherit.
 */
import { appendFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ENV = "PGD_STRESS_ACTIVITY_LOG";

export interface ActivityExecutionCounts {
  /** Activity bodies entered. */
  executions: number;
  /** Distinct (instance, execution, activity id). */
  activities: number;
  /** Executions beyond the first of an activity: executions − activities. */
  duplicates: number;
  /** The activity that ran most often, when one ran more than once. */
  worst: { key: string; runs: number } | null;
}

/** Called first thing in an activity body; does nothing unless the run counts executions. */
export function countActivityExecution(ctx: {
  instanceId: string;
  executionId: number;
  activityId: number;
}): void {
  const dir = process.env[ENV];
  if (!dir) return;
  appendFileSync(join(dir, `${process.pid}.log`), `${ctx.instanceId}#${ctx.executionId}/${ctx.activityId}\n`);
}

/** Turn counting on for this process and the runtime processes it starts from now on. */
export async function startCountingActivityExecutions(): Promise<{
  summarize(): Promise<ActivityExecutionCounts>;
  stop(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "pgd-activity-log-"));
  process.env[ENV] = dir;
  return {
    async summarize() {
      const runs = new Map<string, number>();
      for (const file of await readdir(dir)) {
        for (const key of (await readFile(join(dir, file), "utf8")).split("\n")) {
          if (key) runs.set(key, (runs.get(key) ?? 0) + 1);
        }
      }
      let executions = 0;
      let worst: ActivityExecutionCounts["worst"] = null;
      for (const [key, n] of runs) {
        executions += n;
        if (n > 1 && (!worst || n > worst.runs)) worst = { key, runs: n };
      }
      return { executions, activities: runs.size, duplicates: executions - runs.size, worst };
    },
    async stop() {
      if (process.env[ENV] === dir) delete process.env[ENV];
      await rm(dir, { recursive: true, force: true });
    },
  };
}
