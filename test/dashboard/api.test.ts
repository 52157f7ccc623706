/**
 * The dashboard's JSON API (docs/dashboard.md) on a real store: instances started by a running
 * runtime (details, history spans, tree, actions) and 300 instances written by
 * scripts/lib/dashboard-seed.ts (filters, sorting, keyset paging), served in-process
 * (app.request), plus the server over HTTP as a least-privilege runtime role.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDashboard, seedId, seedStatus } from "../../scripts/lib/dashboard-seed.ts";
import { runDashboard, TOKEN_ENV } from "../../src/cli/commands/dashboard.ts";
import { createDashboard, startDashboard } from "../../src/dashboard/server.ts";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { grantRuntimeRole } from "../../src/migrate/runtime-role.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { cli } from "../cli/run.ts";
import { createHarness, eventually, type Harness } from "../runtime/harness.ts";

let h: Harness;
let app: ReturnType<typeof createDashboard>;
const SEEDED = 300;
/** The seeded instances end two hours ago, one a second. */
const SEED_END = Date.now() - 2 * 3_600_000;

// biome-ignore lint/suspicious/noExplicitAny: API answers are JSON, checked field by field by the assertions
type Json = Record<string, any>;

async function get(path: string, target = app): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await target.request(`http://localhost${path}`);
  return { status: response.status, body: (await response.json()) as Json, headers: response.headers };
}

async function send(method: string, path: string, body?: unknown, target = app) {
  const response = await target.request(`http://localhost${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

/** Every page of a listing, following nextCursor. */
async function allPages(query: string, limit: number): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const { status, body } = await get(
      `/api/instances?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    expect(status).toBe(200);
    items.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) return items;
  }
  throw new Error("paging did not end");
}

beforeAll(async () => {
  h = await createHarness("dash_api");
  await seedDashboard(h.db.pool, h.db.schema, { count: SEEDED, nowMs: SEED_END, spacingMs: 1000 });
  const rt = h.runtime();
  rt.registerActivity("Greet", async (_ctx, name: string) => `Hello, ${name}`);
  rt.registerActivity("Fail", async () => {
    throw new Error("card declined");
  });
  rt.registerOrchestration("Hello", function* (ctx, name: string) {
    ctx.setValue("greeted", name);
    yield ctx.scheduleTimer(5);
    return yield* ctx.scheduleActivity<string>("Greet", name);
  });
  rt.registerOrchestration("Boom", function* (ctx) {
    return yield* ctx.scheduleActivity("Fail", null);
  });
  rt.registerOrchestration("Waiter", function* (ctx) {
    ctx.setCustomStatus("waiting for go");
    return yield ctx.waitForEvent("go");
  });
  rt.registerOrchestration("Parent", function* (ctx) {
    return yield ctx.scheduleSubOrchestrationWithId("Hello", "parent-1/child", "kid");
  });
  rt.registerOrchestration("Generations", function* (ctx, n: number) {
    if (n >= 3) return `final:${n}`;
    return yield ctx.continueAsNew(n + 1);
  });
  await rt.start();
  await h.client.startOrchestration("done-1", "Hello", "world");
  await h.client.startOrchestration("fail-1", "Boom");
  await h.client.startOrchestration("parent-1", "Parent");
  await h.client.startOrchestration("gen-1", "Generations", 1);
  for (const id of ["wait-1", "wait-2", "wait-3"]) await h.client.startOrchestration(id, "Waiter");
  for (const id of ["done-1", "fail-1", "parent-1", "gen-1"]) await h.client.waitForOrchestration(id, 20_000);
  for (const id of ["wait-1", "wait-2", "wait-3"]) await h.client.waitForStatusChange(id, 0, 50, 20_000);
  app = createDashboard({ provider: h.provider });
});

afterAll(async () => {
  await h?.close();
});

describe("config and names", () => {
  it("says which schema it serves and whether it is read-only; times the handler", async () => {
    const { status, body, headers } = await get("/api/config");
    expect(status).toBe(200);
    expect(body).toMatchObject({ schema: h.db.schema, readOnly: false });
    expect(typeof body.version).toBe("string");
    expect(headers.get("server-timing")).toMatch(/^app;dur=\d+(\.\d)?$/);
  });

  it("lists the distinct orchestration names, sorted", async () => {
    const { body } = await get("/api/orchestration-names");
    expect(body.names).toEqual(
      [
        ...new Set([
          "Billing",
          "Checkout",
          "Email",
          "Export",
          "Import",
          "Refund",
          "Report",
          "Sync",
          "Hello",
          "Boom",
          "Waiter",
          "Parent",
          "Generations",
        ]),
      ].sort(),
    );
  });
});

describe("instance list", () => {
  it("pages through every instance newest first with keyset cursors, no duplicates or gaps", async () => {
    const first = await get("/api/instances?limit=50");
    expect(first.body.items).toHaveLength(50);
    expect(first.body.total).toBe(SEEDED + 8);
    expect(Object.keys(first.body.items[0]).sort()).toEqual(
      [
        "createdAtMs",
        "currentExecutionId",
        "instanceId",
        "orchestrationName",
        "orchestrationVersion",
        "parentInstanceId",
        "status",
        "updatedAtMs",
      ].sort(),
    );
    const items = await allPages("sort=created_desc", 37);
    expect(items).toHaveLength(SEEDED + 8);
    expect(new Set(items.map((i) => i.instanceId)).size).toBe(items.length);
    for (let i = 1; i < items.length; i++) {
      const [a, b] = [items[i - 1]!, items[i]!];
      expect(
        a.createdAtMs > b.createdAtMs || (a.createdAtMs === b.createdAtMs && a.instanceId > b.instanceId),
      ).toBe(true);
    }
    // The seeded ones are older than everything the runtime started.
    expect(items.at(-1)!.instanceId).toBe(seedId(0));
  });

  it("sorts oldest first and by last update", async () => {
    const asc = await allPages("sort=created_asc", 100);
    expect(asc.slice(0, 3).map((i) => i.instanceId)).toEqual([seedId(0), seedId(1), seedId(2)]);
    const updated = await allPages("sort=updated_desc", 100);
    expect(updated).toHaveLength(SEEDED + 8);
    for (let i = 1; i < updated.length; i++)
      expect(updated[i - 1]!.updatedAtMs).toBeGreaterThanOrEqual(updated[i]!.updatedAtMs);
  });

  it("filters by status, name, created range and id prefix or substring, also combined", async () => {
    const failed = await allPages("status=Failed", 20);
    const seededFailed = Array.from({ length: SEEDED }, (_, n) => n).filter(
      (n) => seedStatus(n) === "Failed",
    );
    expect(failed.map((i) => i.instanceId).sort()).toEqual(["fail-1", ...seededFailed.map(seedId)].sort());
    expect(failed.every((i) => i.status === "Failed")).toBe(true);

    const waiters = await get("/api/instances?name=Waiter&status=Running");
    expect(waiters.body.items.map((i: Json) => i.instanceId).sort()).toEqual(["wait-1", "wait-2", "wait-3"]);

    const range = await allPages(`createdFrom=${SEED_END - 9_000}&createdTo=${SEED_END}`, 4);
    // Instance n was created at SEED_END - (299 - n) s: [from, to) holds n = 290 … 298.
    expect(range.map((i) => i.instanceId)).toEqual([298, 297, 296, 295, 294, 293, 292, 291, 290].map(seedId));
    const iso = await get(
      `/api/instances?createdFrom=${new Date(SEED_END - 2000).toISOString()}&createdTo=${SEED_END + 1}`,
    );
    expect(iso.body.items).toHaveLength(3);

    const prefix = await get("/api/instances?q=inst-00012");
    expect(prefix.body.items.map((i: Json) => i.instanceId)).toEqual(
      [129, 128, 127, 126, 125, 124, 123, 122, 121, 120].map(seedId),
    );
    expect(prefix.body.total).toBe(10);
    const literal = await get("/api/instances?q=inst_");
    expect(literal.body.items).toEqual([]); // "_" is not a wildcard
    const contains = await get("/api/instances?q=/chi&qMode=contains");
    expect(contains.body.items.map((i: Json) => i.instanceId)).toEqual(["parent-1/child"]);
    expect(contains.body.total).toBeNull(); // a substring search is not counted
  });

  it("refuses bad parameters and foreign cursors with 400 naming the parameter", async () => {
    for (const [query, message] of [
      ["status=Sleeping", /status must be one of/],
      ["limit=0", /limit must be an integer from 1 to 500/],
      ["sort=name", /sort must be one of/],
      ["createdFrom=yesterday", /createdFrom must be epoch milliseconds or an ISO 8601 time/],
      ["createdFrom=20&createdTo=10", /createdFrom must not be after createdTo/],
      ["cursor=bm9wZQ", /cursor is not one this dashboard gave out/],
    ] as const) {
      const { status, body } = await get(`/api/instances?${query}`);
      expect(status, query).toBe(400);
      expect(body.error).toMatch(message);
    }
    const page = await get("/api/instances?limit=5&sort=created_asc");
    const wrong = await get(`/api/instances?sort=created_desc&cursor=${page.body.nextCursor}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatch(/belongs to sort=created_asc/);
  });
});

describe("instance page", () => {
  it("shows a completed instance: input, output, KV, executions and its place in the tree", async () => {
    const { status, body } = await get(`/api/instances/${encodeURIComponent("parent-1/child")}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      instanceId: "parent-1/child",
      orchestrationName: "Hello",
      status: "Completed",
      input: '"kid"',
      output: '"Hello, kid"',
      error: null,
      parentInstanceId: "parent-1",
      kv: [{ key: "greeted", value: "kid" }],
      currentExecutionId: 1,
    });
    expect(body.executions).toEqual([
      expect.objectContaining({ executionId: 1, status: "Completed", eventCount: expect.any(Number) }),
    ]);
    expect(body.executions[0].eventCount).toBeGreaterThanOrEqual(6);
    expect(body.tree).toEqual({
      instanceId: "parent-1",
      status: "Completed",
      orchestrationName: "Parent",
      children: [
        { instanceId: "parent-1/child", status: "Completed", orchestrationName: "Hello", children: [] },
      ],
    });
  });

  it("shows a failure's error, a custom status, every execution of a continue-as-new chain, and 404", async () => {
    const failed = await get("/api/instances/fail-1");
    expect(failed.body).toMatchObject({ status: "Failed", output: null, error: "card declined" });
    expect(failed.body.errorDetails).toHaveProperty("Application");
    const waiting = await get("/api/instances/wait-1");
    expect(waiting.body).toMatchObject({
      status: "Running",
      customStatus: "waiting for go",
      customStatusVersion: 1,
    });
    const gen = await get("/api/instances/gen-1");
    expect(gen.body.executions.map((e: Json) => [e.executionId, e.status])).toEqual([
      [1, "ContinuedAsNew"],
      [2, "ContinuedAsNew"],
      [3, "Completed"],
    ]);
    expect(gen.body).toMatchObject({ input: "3", output: '"final:3"' });
    const missing = await get("/api/instances/no-such-instance");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/not found/);
  });

  it("gives the history with spans: activities, timers and sub-orchestrations with outcomes", async () => {
    const hello = await get("/api/instances/done-1/history");
    expect(hello.status).toBe(200);
    expect(hello.body.executionId).toBe(1);
    expect(hello.body.events[0]).toMatchObject({
      eventId: 1,
      type: "OrchestrationStarted",
      data: { name: "Hello" },
    });
    expect(hello.body.events.map((e: Json) => e.eventId)).toEqual(
      hello.body.events.map((_: Json, i: number) => i + 1),
    );
    const spans = hello.body.spans.map((s: Json) => [s.kind, s.name, s.outcome]);
    expect(spans).toEqual([
      ["timer", "timer", "completed"],
      ["activity", "Greet", "completed"],
    ]);
    for (const s of hello.body.spans) expect(s.endMs).toBeGreaterThanOrEqual(s.startMs);

    const boom = await get("/api/instances/fail-1/history");
    expect(boom.body.spans).toEqual([
      expect.objectContaining({ kind: "activity", name: "Fail", outcome: "failed", error: "card declined" }),
    ]);
    const parent = await get("/api/instances/parent-1/history");
    expect(parent.body.spans).toEqual([
      expect.objectContaining({
        kind: "subOrchestration",
        name: "Hello",
        childInstanceId: "parent-1/child",
        outcome: "completed",
      }),
    ]);
    const waiter = await get("/api/instances/wait-2/history");
    expect(waiter.body.spans).toEqual([
      expect.objectContaining({ kind: "externalEvent", name: "go", outcome: "pending", endMs: null }),
    ]);
    const first = await get("/api/instances/gen-1/history?execution=1");
    expect(first.body.executionId).toBe(1);
    expect(first.body.events.at(-1).type).toBe("OrchestrationContinuedAsNew");
    expect((await get("/api/instances/nobody/history")).status).toBe(404);
    expect((await get("/api/instances/gen-1/history?execution=zero")).status).toBe(400);
  });
});

describe("queues and metrics", () => {
  it("counts queue messages as ready, delayed and locked", async () => {
    const { status, body } = await get("/api/queues");
    expect(status).toBe(200);
    for (const queue of [body.orchestrator, body.worker]) {
      expect(queue).toEqual({
        ready: expect.any(Number),
        delayed: expect.any(Number),
        locked: expect.any(Number),
        oldestReadyAgeMs: queue.ready > 0 ? expect.any(Number) : null,
      });
    }
    expect(body.sessions).toEqual({ active: 0 });
  });

  it("buckets the last hour per minute with starts, completions, failures and latencies", async () => {
    const { body } = await get("/api/metrics?minutes=60");
    expect(body.bucketMs).toBe(60_000);
    expect(body.buckets).toHaveLength(60);
    const sum = (key: string) => body.buckets.reduce((n: number, b: Json) => n + b[key], 0);
    // done-1, fail-1, parent-1, its child, gen-1 and the three waiters started in this hour;
    expect(sum("started")).toBe(8);
    // done-1, the child, parent-1 and gen-1's last execution completed; fail-1 failed.
    expect(sum("completed")).toBe(4);
    expect(sum("failed")).toBe(1);
    expect(sum("activities")).toBe(3); // Greet twice, Fail once
    const sampled = body.buckets.filter((b: Json) => b.activities > 0);
    for (const b of sampled) expect(b.activityP95Ms).toBeGreaterThanOrEqual(b.activityP50Ms);
    expect(body.buckets.some((b: Json) => b.turns > 0 && b.turnP50Ms !== null)).toBe(true);
    expect((await get("/api/metrics?minutes=0")).status).toBe(400);
  });
});

describe("actions", () => {
  it("raises an event, cancels, prunes and deletes through the client API", async () => {
    const raised = await send("POST", "/api/instances/wait-1/events", { name: "go", data: { ok: 1 } });
    expect(raised).toEqual({ status: 200, body: { ok: true, instanceId: "wait-1", name: "go" } });
    await h.client.waitForOrchestration("wait-1", 20_000);
    expect((await get("/api/instances/wait-1")).body).toMatchObject({
      status: "Completed",
      output: '{"ok":1}',
    });

    const cancelled = await send("POST", "/api/instances/wait-2/cancel", { reason: "not needed" });
    expect(cancelled.status).toBe(200);
    await h.client.waitForOrchestration("wait-2", 20_000);
    expect((await get("/api/instances/wait-2")).body.error).toMatch(/not needed/);

    const pruned = await send("POST", "/api/prune", { keepLast: 1, instanceId: "gen-1" });
    expect(pruned.body).toMatchObject({ ok: true, instancesProcessed: 1, executionsDeleted: 2 });
    expect((await get("/api/instances/gen-1")).body.executions).toHaveLength(1);

    const running = await send("DELETE", "/api/instances/wait-3");
    expect(running.status).toBe(409);
    expect(running.body.error).toMatch(/Running/);
    const deleted = await send("DELETE", "/api/instances/wait-3?force=true");
    expect(deleted.body).toMatchObject({ ok: true, instancesDeleted: 1 });
    expect((await get("/api/instances/wait-3")).status).toBe(404);
  });

  it("refuses bad action bodies with 400", async () => {
    expect((await send("POST", "/api/instances/wait-3/events", { data: 1 })).body.error).toMatch(/name/);
    expect((await send("POST", "/api/prune", {})).status).toBe(400);
    expect((await send("POST", "/api/prune", { keepLast: 0 })).body.error).toMatch(
      /keepLast must be an integer >= 1/,
    );
    const notJson = await app.request("http://localhost/api/prune", { method: "POST", body: "keepLast=1" });
    expect(notJson.status).toBe(415);
  });

  it("refuses every action with 403 when read-only, and still reads", async () => {
    const readOnly = createDashboard({ provider: h.provider, readOnly: true });
    expect((await get("/api/config", readOnly)).body.readOnly).toBe(true);
    for (const [method, path, body] of [
      ["POST", "/api/instances/done-1/cancel", {}],
      ["POST", "/api/instances/done-1/events", { name: "x" }],
      ["DELETE", "/api/instances/done-1", undefined],
      ["POST", "/api/prune", { keepLast: 1 }],
    ] as const) {
      expect(await send(method, path, body, readOnly), `${method} ${path}`).toEqual({
        status: 403,
        body: { error: "read-only dashboard" },
      });
    }
    expect((await get("/api/instances/done-1", readOnly)).status).toBe(200);
  });
});

describe("access", () => {
  it("requires the token as a bearer header or the cookie that /?token= sets", async () => {
    const token = randomBytes(12).toString("hex");
    const guarded = createDashboard({ provider: h.provider, token });
    const bare = await guarded.request("http://dash.example:4600/api/config");
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as Json).error).toMatch(/token is required/);
    const wrong = await guarded.request("http://dash.example:4600/api/config", {
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.status).toBe(401);
    const bearer = await guarded.request("http://dash.example:4600/api/config", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bearer.status).toBe(200);
    const landing = await guarded.request(`http://dash.example:4600/?token=${token}`);
    expect(landing.status).toBe(302);
    expect(landing.headers.get("location")).toBe("/");
    const cookie = landing.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^pgd_token=[0-9a-f]+;.*HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const withCookie = await guarded.request("http://dash.example:4600/api/instances?limit=1", {
      headers: { cookie: cookie.split(";")[0]! },
    });
    expect(withCookie.status).toBe(200);
    expect((await guarded.request(`http://dash.example:4600/?token=bad`)).status).toBe(401);
  });

  it("without a token answers loopback hosts only, and refuses cross-origin actions", async () => {
    expect((await app.request("http://evil.example/api/config")).status).toBe(403);
    expect((await app.request("http://127.0.0.1:4600/api/config")).status).toBe(200);
    const crossSite = await app.request("http://localhost/api/instances/done-1/cancel", {
      method: "POST",
      headers: { origin: "http://evil.example", "content-type": "application/json" },
      body: "{}",
    });
    expect(crossSite.status).toBe(403);
  });

  it("serves the page for any non-API path and assets under /assets/, never files outside", async () => {
    for (const path of ["/", "/instances/done-1"]) {
      const page = await app.request(`http://localhost${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/text\/html/);
    }
    expect((await app.request("http://localhost/assets/..%2F..%2Fserver.ts")).status).toBe(404);
    expect((await app.request("http://localhost/api/nothing")).status).toBe(404);
  });
});

describe("as a least-privilege runtime role", () => {
  it("serves the list, an instance, its history, queues and metrics over HTTP", async () => {
    const role = `pgd_dash_${randomBytes(5).toString("hex")}`;
    const password = randomBytes(12).toString("hex");
    const admin = new pg.Client({ connectionString: h.db.url });
    await admin.connect();
    const url = new URL(h.db.url);
    url.username = role;
    url.password = password;
    let provider: PostgresProvider | null = null;
    try {
      await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD '${password}'`);
      await grantRuntimeRole(h.db.pool, h.db.schema, role);
      provider = await PostgresProvider.create({
        connectionString: url.toString(),
        schema: h.db.schema,
        longPoll: false,
      });
      const running = await startDashboard({ provider, port: 0 });
      try {
        for (const path of [
          "api/instances?status=Completed&limit=5",
          "api/instances/done-1",
          "api/instances/done-1/history",
          "api/queues",
          "api/metrics",
          "api/orchestration-names",
        ]) {
          const response = await fetch(`${running.url}${path}`);
          expect(response.status, path).toBe(200);
        }
      } finally {
        await running.close();
      }
    } finally {
      await provider?.close();
      await admin.query(`REVOKE ALL ON SCHEMA ${quoteSchema(h.db.schema)} FROM ${pg.escapeIdentifier(role)}`);
      await admin.query(
        `REVOKE ALL ON ALL ROUTINES IN SCHEMA ${quoteSchema(h.db.schema)} FROM ${pg.escapeIdentifier(role)}`,
      );
      await admin.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
      await admin.end();
    }
  });
});

describe("pg-durable dashboard", () => {
  it("refuses a host beyond loopback without a token (exit 2)", async () => {
    const run = await cli([
      "dashboard",
      "--database-url",
      h.db.url,
      "--schema",
      h.db.schema,
      "--host",
      "0.0.0.0",
    ]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /--host 0\.0\.0\.0 listens beyond this machine: pass --token <secret> or set PG_DURABLE_DASHBOARD_TOKEN/,
    );
  });

  it("serves until stopped, printing the sign-in link; the token may come from the environment", async () => {
    const out: string[] = [];
    const io = {
      out: (t: string) => out.push(t),
      err: (t: string) => out.push(t),
      env: { [TOKEN_ENV]: "s3cret" },
    };
    const stop = new AbortController();
    const flags = {
      databaseUrl: h.db.url,
      schema: h.db.schema,
      connectTimeoutMs: 5000,
      queryTimeoutMs: 0,
      json: true,
      host: "127.0.0.1",
      port: 0,
      readOnly: true,
    };
    const done = runDashboard(flags, io, stop.signal);
    const started = await eventually<string | null>(async () => out[0] ?? null, 10_000);
    const { url, readOnly, tokenRequired } = JSON.parse(started!) as Json;
    expect({ readOnly, tokenRequired }).toEqual({ readOnly: true, tokenRequired: true });
    expect((await fetch(`${url}api/config`)).status).toBe(401);
    const config = await fetch(`${url}api/config`, { headers: { authorization: "Bearer s3cret" } });
    expect(await config.json()).toMatchObject({ schema: h.db.schema, readOnly: true });
    stop.abort();
    expect(await done).toBe(0);
    await expect(fetch(`${url}api/config`)).rejects.toThrow();
  });
});
