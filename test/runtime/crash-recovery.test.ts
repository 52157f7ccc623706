import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRASH_OPTIONS, registerCrashFlow, STEPS } from "./fixtures/crash-flow.ts";
import { createHarness, eventually, type Harness } from "./harness.ts";

let h: Harness;
let child: ChildProcess | null = null;

beforeAll(async () => {
  h = await createHarness("rt_crash");
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await h?.close();
});

async function startChildRuntime(): Promise<ChildProcess> {
  const proc = spawn("npx", ["tsx", "test/runtime/fixtures/crash-worker.ts"], {
    env: { ...process.env, PGD_URL: h.db.url, PGD_SCHEMA: h.db.schema },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true, // its own process group, so the kill reaches tsx's node child too
  });
  let out = "";
  proc.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  await eventually(async () => out.includes("ready"), 30_000);
  return proc;
}

describe("crash recovery", () => {
  it("finishes every instance after the runtime running them is killed, recording each completion once", async () => {
    child = await startChildRuntime();
    const ids = Array.from({ length: 6 }, (_, i) => `crash-${i}`);
    for (const id of ids) await h.client.startOrchestration(id, "CrashFlow");

    // Kill it mid-flight: some activities done, the instances not finished.
    await eventually(async () => {
      let completed = 0;
      for (const id of ids)
        completed += (await h.history(id)).filter((e) => e.type === "ActivityCompleted").length;
      return completed >= 4;
    }, 30_000);
    process.kill(-child.pid!, "SIGKILL");
    await once(child, "exit");
    const unfinished = [];
    for (const id of ids) if ((await h.client.getStatus(id)).status !== "Completed") unfinished.push(id);
    expect(unfinished.length).toBeGreaterThan(0);

    const replacement = h.runtime(CRASH_OPTIONS);
    registerCrashFlow(replacement);
    await replacement.start();

    const expected = Array.from({ length: STEPS }, (_, i) => (i + 1) * 10).reduce((a, b) => a + b, 0);
    for (const id of ids) {
      expect(await h.client.waitForOrchestrationTyped(id, 30_000)).toBe(expected);
      const history = await h.history(id);
      const scheduled = history.filter((e) => e.type === "ActivityScheduled").map((e) => e.event_id);
      const completions = history.filter((e) => e.type === "ActivityCompleted").map((e) => e.source_event_id);
      expect(scheduled).toHaveLength(STEPS);
      expect([...completions].sort()).toEqual([...scheduled].sort());
      expect(history.map((e) => e.event_id)).toEqual(history.map((_, i) => i + 1));
    }
  });
});
