/**
 * `pg-durable instances …`, `prune` and `queues` on a real store seeded by a running runtime.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { uniqueSchemaName } from "../../src/testing/test-schema.ts";
import { createHarness, type Harness } from "../runtime/harness.ts";
import { cli, target } from "./run.ts";

let h: Harness;
let db: string[];

beforeAll(async () => {
  h = await createHarness("cli_inst");
  db = target(h.db.url, h.db.schema);
  const rt = h.runtime();
  rt.registerActivity("Greet", async (_ctx, name: string) => `Hello, ${name}`);
  rt.registerOrchestration("Hello", function* (ctx, name: string) {
    return yield* ctx.scheduleActivity<string>("Greet", name);
  });
  // biome-ignore lint/correctness/useYield: failing before the first yield is the point
  rt.registerOrchestration("Boom", function* () {
    throw new Error("kaboom");
  });
  rt.registerOrchestration("Waiter", function* (ctx) {
    ctx.setCustomStatus("waiting");
    return yield ctx.waitForEvent("go");
  });
  rt.registerOrchestration("Parent", function* (ctx) {
    return yield ctx.scheduleSubOrchestrationWithId("Hello", "parent-1-child", "kid");
  });
  rt.registerOrchestration("Generations", function* (ctx, n: number) {
    if (n >= 4) return `final:${n}`;
    return yield ctx.continueAsNew(n + 1);
  });
  await rt.start();
  await h.client.startOrchestration("done-1", "Hello", "world");
  await h.client.startOrchestration("fail-1", "Boom");
  await h.client.startOrchestration("parent-1", "Parent");
  await h.client.startOrchestration("gen-1", "Generations", 1);
  for (const id of ["wait-1", "wait-2", "wait-3"]) await h.client.startOrchestration(id, "Waiter");
  for (const id of ["done-1", "fail-1", "parent-1", "gen-1"]) await h.client.waitForOrchestration(id, 20_000);
  for (const id of ["wait-1", "wait-2", "wait-3"]) {
    await h.client.waitForStatusChange(id, 0, 50, 20_000);
  }
});

afterAll(async () => {
  await h?.close();
});

describe("instances list", () => {
  it("prints a table, and JSON with stable fields", async () => {
    const table = await cli(["instances", "list", ...db]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/│ instance\s+│ orchestration\s+│ version\s+│ status/);
    expect(table.out).toMatch(/done-1\s+│ Hello/);
    expect(table.out).toMatch(/8 instance\(s\)/);

    const run = await cli(["instances", "list", ...db, "--json"]);
    expect(run.code).toBe(0);
    const { instances, truncated } = run.json<{ instances: Record<string, unknown>[]; truncated: boolean }>();
    expect(truncated).toBe(false);
    expect(instances).toHaveLength(8);
    const done = instances.find((i) => i.instanceId === "done-1")!;
    expect(Object.keys(done).sort()).toEqual(
      [
        "createdAt",
        "currentExecutionId",
        "instanceId",
        "orchestrationName",
        "orchestrationVersion",
        "parentInstanceId",
        "status",
        "updatedAt",
      ].sort(),
    );
    expect(done).toMatchObject({ orchestrationName: "Hello", status: "Completed", currentExecutionId: 1 });
    expect(new Date(done.createdAt as string).toISOString()).toBe(done.createdAt);
  });

  it("filters by status (any case) and by name, and stops at --limit", async () => {
    const byStatus = await cli(["instances", "list", ...db, "--status", "failed", "--json"]);
    expect(
      byStatus.json<{ instances: { instanceId: string }[] }>().instances.map((i) => i.instanceId),
    ).toEqual(["fail-1"]);
    const byName = await cli(["instances", "list", ...db, "--name", "Waiter", "--json"]);
    expect(
      byName
        .json<{ instances: { instanceId: string }[] }>()
        .instances.map((i) => i.instanceId)
        .sort(),
    ).toEqual(["wait-1", "wait-2", "wait-3"]);
    const limited = await cli(["instances", "list", ...db, "--limit", "2", "--json"]);
    expect(limited.json<{ instances: unknown[]; truncated: boolean }>()).toMatchObject({ truncated: true });
    expect(limited.json<{ instances: unknown[] }>().instances).toHaveLength(2);
  });

  it("rejects an unknown status or a bad limit as usage errors (exit 2)", async () => {
    const status = await cli(["instances", "list", ...db, "--status", "Sleeping"]);
    expect(status.code).toBe(2);
    expect(status.err).toMatch(/--status must be one of Running, Completed, Failed, ContinuedAsNew/);
    const limit = await cli(["instances", "list", ...db, "--limit", "zero"]);
    expect(limit.code).toBe(2);
    expect(limit.err).toMatch(/--limit must be an integer >= 1/);
  });
});

describe("instances show", () => {
  it("shows output, executions and children of a completed parent", async () => {
    const run = await cli(["instances", "show", "parent-1", ...db, "--json"]);
    expect(run.code).toBe(0);
    const shown = run.json();
    expect(shown).toMatchObject({
      instanceId: "parent-1",
      status: "Completed",
      output: JSON.stringify("Hello, kid"),
      error: null,
      children: ["parent-1-child"],
      parentInstanceId: null,
    });
    expect(shown.executions).toEqual([
      expect.objectContaining({ executionId: 1, status: "Completed", eventCount: expect.any(Number) }),
    ]);
    const child = await cli(["instances", "show", "parent-1-child", ...db, "--json"]);
    expect(child.json()).toMatchObject({ parentInstanceId: "parent-1", children: [] });

    const table = await cli(["instances", "show", "parent-1", ...db]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/children\s+│ parent-1-child/);
    expect(table.out).toMatch(/│ execution │ status/);
  });

  it("shows the error of a failed instance and the custom status of a running one", async () => {
    const failed = await cli(["instances", "show", "fail-1", ...db, "--json"]);
    expect(failed.json()).toMatchObject({
      status: "Failed",
      output: null,
      error: expect.stringMatching(/kaboom/),
    });
    const waiting = await cli(["instances", "show", "wait-1", ...db, "--json"]);
    expect(waiting.json()).toMatchObject({ status: "Running", customStatus: "waiting" });
  });

  it("fails with exit 1 for an unknown instance", async () => {
    const run = await cli(["instances", "show", "nope", ...db]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/instance "nope" not found in schema/);
  });
});

describe("instances history", () => {
  it("prints the current execution by default and any execution with --execution", async () => {
    const current = await cli(["instances", "history", "gen-1", ...db, "--json"]);
    expect(current.code).toBe(0);
    const latest = current.json<{ executionId: number; events: { type: string }[] }>();
    expect(latest.executionId).toBe(4);
    expect(latest.events.map((e) => e.type)).toEqual(["OrchestrationStarted", "OrchestrationCompleted"]);

    const first = await cli(["instances", "history", "gen-1", ...db, "--execution", "1", "--json"]);
    const events = first.json<{ events: { type: string; event_id: number }[] }>().events;
    expect(events.map((e) => e.type)).toEqual(["OrchestrationStarted", "OrchestrationContinuedAsNew"]);

    const table = await cli(["instances", "history", "gen-1", ...db, "--execution", "2"]);
    expect(table.out).toMatch(/instance gen-1, execution 2/);
    expect(table.out).toMatch(/OrchestrationContinuedAsNew/);
  });

  it("fails with exit 1 for an execution that does not exist", async () => {
    const run = await cli(["instances", "history", "gen-1", ...db, "--execution", "99"]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/has no execution 99 \(it has 1, 2, 3, 4\)/);
  });
});

describe("instances raise, cancel, delete", () => {
  it("raises an event with JSON data that the orchestration receives", async () => {
    const run = await cli(["instances", "raise", "wait-1", "go", '{"n":1}', ...db, "--json"]);
    expect(run.code).toBe(0);
    expect(run.json()).toEqual({ instanceId: "wait-1", event: "go", raised: true, status: "Running" });
    expect(await h.client.waitForOrchestration("wait-1", 20_000)).toMatchObject({
      status: "Completed",
      output: { n: 1 },
    });
  });

  it("refuses malformed JSON data with exit 2 before connecting, and an unknown instance with exit 1", async () => {
    const bad = await cli([
      "instances",
      "raise",
      "wait-2",
      "go",
      "{n:1}",
      "--database-url",
      "postgres://x@127.0.0.1:1/x",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/the data for event "go" is not valid JSON/);
    const unknown = await cli(["instances", "raise", "ghost", "go", "1", ...db]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/instance "ghost" not found/);
  });

  it("cancels a running instance and leaves a finished one alone", async () => {
    const run = await cli(["instances", "cancel", "wait-2", "--reason", "operator said so", ...db, "--json"]);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ instanceId: "wait-2", cancelRequested: true });
    const status = await h.client.waitForOrchestration("wait-2", 20_000);
    expect(status.status).toBe("Failed");
    expect(JSON.stringify(status)).toMatch(/operator said so/);

    const finished = await cli(["instances", "cancel", "done-1", ...db]);
    expect(finished.code).toBe(0);
    expect(finished.out).toMatch(/done-1 is Completed: nothing to cancel/);
  });

  it("refuses to delete a running instance without --force, then deletes it with --force", async () => {
    const refused = await cli(["instances", "delete", "wait-3", ...db]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/cannot delete "wait-3": .*Running.*pass --force/);
    const run = await cli(["instances", "delete", "wait-3", "--force", ...db, "--json"]);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ instanceId: "wait-3", instancesDeleted: 1, executionsDeleted: 1 });
    expect(Object.keys(run.json()).sort()).toEqual(
      ["eventsDeleted", "executionsDeleted", "instanceId", "instancesDeleted", "queueMessagesDeleted"].sort(),
    );
    expect((await cli(["instances", "show", "wait-3", ...db])).code).toBe(1);
  });

  it("deletes a finished instance tree and prints what it removed", async () => {
    const run = await cli(["instances", "delete", "parent-1", ...db]);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/deleted parent-1: 2 instance\(s\), 2 execution\(s\)/);
  });
});

describe("prune and queues", () => {
  it("prunes old executions, keeping the current one", async () => {
    const usage = await cli(["prune", ...db]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/pass --keep-last N and\/or --completed-before ISO/);
    const bad = await cli(["prune", ...db, "--completed-before", "yesterday"]);
    expect(bad.code).toBe(2);

    const run = await cli(["prune", ...db, "--keep-last", "2", "--instance", "gen-1", "--json"]);
    expect(run.code).toBe(0);
    expect(run.json()).toEqual({
      keepLast: 2,
      completedBefore: null,
      instancesProcessed: 1,
      executionsDeleted: 2,
      eventsDeleted: 4,
    });
    const table = await cli([
      "prune",
      ...db,
      "--completed-before",
      new Date(Date.now() + 60_000).toISOString(),
    ]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/executions deleted\s+│ 1 /);
    expect(await h.client.listExecutions("gen-1")).toEqual([4]);
  });

  it("prints queue depths and instance counts", async () => {
    const run = await cli(["queues", ...db, "--json"]);
    expect(run.code).toBe(0);
    const q = run.json();
    expect(Object.keys(q).sort()).toEqual(["instances", "orchestratorQueue", "sessions", "workerQueue"]);
    expect(q.orchestratorQueue).toEqual({
      ready: expect.any(Number),
      delayed: 0,
      locked: expect.any(Number),
    });
    expect(q.workerQueue).toEqual({
      ready: expect.any(Number),
      delayed: expect.any(Number),
      locked: expect.any(Number),
    });
    expect(q.sessions).toEqual({ active: 0, total: 0 });
    expect(q.instances).toMatchObject({ failed: 2 });
    const table = await cli(["queues", ...db]);
    expect(table.out).toMatch(/│ orchestrator │/);
    expect(table.out).toMatch(/sessions: 0 active, 0 total/);
  });
});

describe("as a least-privilege runtime role", () => {
  it("lists and shows instances; queue details it may not read are n/a", async () => {
    const role = `pgd_cli_${randomBytes(5).toString("hex")}`;
    const password = randomBytes(12).toString("hex");
    const admin = new pg.Client({ connectionString: h.db.url });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD '${password}'`);
      const granted = await cli(["migrate", ...db, "--grant-runtime-role", role]);
      expect(granted.code).toBe(0);
      const url = new URL(h.db.url);
      url.username = role;
      url.password = password;
      const asRole = target(url.toString(), h.db.schema);
      const list = await cli(["instances", "list", ...asRole, "--json"]);
      expect(list.code).toBe(0);
      expect(list.json<{ instances: unknown[] }>().instances.length).toBeGreaterThan(0);
      expect((await cli(["instances", "show", "done-1", ...asRole])).code).toBe(0);
      const queues = await cli(["queues", ...asRole, "--json"]);
      expect(queues.code).toBe(0);
      expect(queues.json()).toMatchObject({
        sessions: null,
        orchestratorQueue: { delayed: null, locked: null },
      });
      const other = await cli(["instances", "list", ...target(url.toString(), uniqueSchemaName("cli_none"))]);
      expect(other.code).toBe(1);
      expect(other.err).toMatch(/does not exist/);
    } finally {
      await admin.query(`REVOKE ALL ON SCHEMA ${quoteSchema(h.db.schema)} FROM ${pg.escapeIdentifier(role)}`);
      await admin.query(
        `REVOKE ALL ON ALL ROUTINES IN SCHEMA ${quoteSchema(h.db.schema)} FROM ${pg.escapeIdentifier(role)}`,
      );
      await admin.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
      await admin.end();
    }
  });
});
