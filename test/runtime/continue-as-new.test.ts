import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, waitForHistory } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_can");
  const runtime = h.runtime();
  runtime.registerActivity("Record", async (_ctx, n: number) => n);
  runtime.registerOrchestration("Generations", function* (ctx, input: { n: number; last: number }) {
    yield ctx.scheduleActivity("Record", input.n);
    if (input.n >= input.last) return `final:${input.n}`;
    return yield ctx.continueAsNew({ n: input.n + 1, last: input.last });
  });
  runtime.registerOrchestration("Mailbox", function* (ctx, seen: string[]) {
    const message: string = yield ctx.dequeueEvent("mail");
    const all = [...seen, message];
    ctx.setCustomStatus(`seen ${all.length}`);
    if (message === "stop") return all;
    return yield ctx.continueAsNew(all);
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("continue-as-new", () => {
  it("rolls 50 generations forward, each with its own small history", async () => {
    await h.client.startOrchestration("gen-50", "Generations", { n: 1, last: 50 });
    expect(await h.client.waitForOrchestrationTyped("gen-50", 60_000)).toBe("final:50");
    const executions = await h.db.pool.query(
      `SELECT execution_id, count(*)::int AS events FROM "${h.db.schema}".history WHERE instance_id = $1 GROUP BY 1 ORDER BY 1`,
      ["gen-50"],
    );
    expect(executions.rows).toHaveLength(50);
    for (const row of executions.rows) expect(row.events).toBeLessThanOrEqual(5);
    const last = await h.history("gen-50");
    expect(last[0]).toMatchObject({ type: "OrchestrationStarted", execution_id: 50, event_id: 1 });
  });

  it("carries unconsumed queue messages into the next execution", async () => {
    await h.client.startOrchestration("mailbox-1", "Mailbox", []);
    await waitForHistory(h, "mailbox-1", "ExternalSubscribedPersistent");
    for (const m of ["one", "two", "three", "stop"]) await h.client.enqueueEvent("mailbox-1", "mail", m);
    expect(await h.client.waitForOrchestrationTyped("mailbox-1", 30_000)).toEqual([
      "one",
      "two",
      "three",
      "stop",
    ]);
    const status = await h.client.getStatus("mailbox-1");
    expect(status).toMatchObject({ status: "Completed", customStatus: "seen 4" });
  });
});
