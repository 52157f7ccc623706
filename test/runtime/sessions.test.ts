import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;

function register(rt: Runtime, node: string): void {
  rt.registerActivity("WhereAmI", async (ctx) => ({ node, session: ctx.sessionId }));
  rt.registerOrchestration("Affinity", function* (ctx, sessions: string[]) {
    const tasks = [];
    for (let round = 0; round < 3; round++) {
      for (const s of sessions) tasks.push(ctx.scheduleActivityOnSession("WhereAmI", { round, s }, s));
    }
    tasks.push(ctx.scheduleActivity("WhereAmI", "plain"));
    return yield ctx.all(tasks);
  });
}

beforeAll(async () => {
  h = await createHarness("rt_sessions");
  const a = await h.separateRuntime({ workerNodeId: "node-a" });
  const b = await h.separateRuntime({ workerNodeId: "node-b" });
  register(a, "node-a");
  register(b, "node-b");
  await a.start();
  await b.start();
});

afterAll(async () => {
  await h?.close();
});

describe("sessions", () => {
  it("runs every activity of one session on the same node", async () => {
    const sessions = ["s1", "s2", "s3", "s4"];
    await h.client.startOrchestration("affinity-1", "Affinity", sessions);
    const results = await h.client.waitForOrchestrationTyped<
      { ok: { node: string; session: string | null } }[]
    >("affinity-1", 30_000);
    const plain = results.pop()!;
    expect(plain.ok.session).toBeNull();
    for (const s of sessions) {
      const nodes = new Set(results.filter((r) => r.ok.session === s).map((r) => r.ok.node));
      expect(nodes.size).toBe(1);
    }
    expect(results).toHaveLength(12);
  });
});
