/**
 * Chaos failover on PostgreSQL 15 from local binaries (/usr/lib/postgresql/15/bin): a primary and a
 * streaming standby behind a TCP proxy. First the cluster itself: after a failover the proxy's
 * address reaches the promoted standby; a commit acknowledged just before the crash survives with
 * synchronous replication and is lost with a lagging asynchronous standby (the store goes back in
 * time). The client's audit tells a forgotten start from a queued one. Then short stress runs with
 * one failover each pass the correctness check in both modes.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { startFailoverCluster, storeAuditor } from "../../src/stress/failover/index.ts";
import type { ScenarioResult } from "../../src/stress/report.ts";
import { createHarness } from "../runtime/harness.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Wait until the standby has replayed everything the primary wrote so far. */
async function caughtUp(url: string): Promise<void> {
  for (;;) {
    const [row] = await query<{ behind: boolean }>(
      url,
      "SELECT coalesce(replay_lsn < pg_current_wal_lsn(), true) AS behind FROM pg_stat_replication",
    );
    if (row && !row.behind) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("failover cluster", () => {
  it("sync: a commit acknowledged just before the primary crashes survives the promotion", async () => {
    const cluster = await startFailoverCluster(PG_BIN, "sync");
    try {
      await query(cluster.url, "CREATE TABLE acked (v text)");
      await query(cluster.url, "INSERT INTO acked VALUES ('before the crash')");
      const [before] = await query<{ port: string }>(cluster.url, "SELECT current_setting('port') AS port");
      const detail = await cluster.failover();
      expect(detail).toMatch(/crashed \(immediate shutdown\).*promoted.*new standby node3 streaming/);
      const [after] = await query<{ port: string }>(cluster.url, "SELECT current_setting('port') AS port");
      expect(after!.port).not.toBe(before!.port); // the same address now reaches another server
      expect(await query(cluster.url, "SELECT v FROM acked")).toEqual([{ v: "before the crash" }]);
      expect(cluster.failovers).toBe(1);
    } finally {
      await cluster.stop();
    }
  });

  it("async: a lagging standby is promoted without the last acknowledged commit", async () => {
    const cluster = await startFailoverCluster(PG_BIN, "async");
    try {
      await query(cluster.url, "CREATE TABLE acked (v text)");
      await caughtUp(cluster.url); // the table itself is on the standby
      // The commit is acknowledged (async) while its WAL is held back from the standby.
      cluster.holdReplication();
      await query(cluster.url, "INSERT INTO acked VALUES ('acknowledged, not yet replicated')");
      await cluster.failover();
      expect(await query(cluster.url, "SELECT v FROM acked")).toEqual([]);
      // The promoted server takes writes at the same address.
      await query(cluster.url, "INSERT INTO acked VALUES ('after')");
      expect(await query(cluster.url, "SELECT v FROM acked")).toEqual([{ v: "after" }]);
    } finally {
      await cluster.stop();
    }
  });
});

describe("lost-work audit", () => {
  it("tells a forgotten start from a queued one, and finds an instance running again", async () => {
    const h = await createHarness("lostwork");
    try {
      const rt = h.runtime();
      // biome-ignore lint/correctness/useYield: an orchestration that needs no step
      rt.registerOrchestration("Noop", function* () {
        return 1;
      });
      await rt.start();
      await h.client.startOrchestration("done-1", "Noop");
      expect((await h.client.waitForOrchestration("done-1", 20_000)).status).toBe("Completed");
      await rt.shutdown(2000);
      await h.client.startOrchestration("queued-1", "Noop"); // no runtime: stays in the queue

      const audit = storeAuditor(h.db.pool, h.db.schema);
      expect(await audit(["done-1", "queued-1", "never-started"])).toEqual({
        missing: ["never-started"],
        unfinished: ["queued-1"],
      });

      // The store goes back in time: the completion and the queued start are gone.
      const q = quoteSchema(h.db.schema);
      await h.db.pool.query(`UPDATE ${q}.executions SET status = 'Running' WHERE instance_id = 'done-1'`);
      await h.db.pool.query(`DELETE FROM ${q}.orchestrator_queue WHERE instance_id = 'queued-1'`);
      const after = await audit(["done-1", "queued-1"]);
      expect(after).toEqual({ missing: ["queued-1"], unfinished: ["done-1"] });
    } finally {
      await h.close();
    }
  });
});

/** The run starts its own servers: it must not see the test suite's DATABASE_URL. */
function withoutDatabaseUrl(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  return env;
}

/** Run the stress binary and return its exit code, output and JSON record. */
async function stress(
  args: string[],
): Promise<{ code: number | null; output: string; result: ScenarioResult }> {
  const dir = await mkdtemp(join(tmpdir(), "pgd-failover-test-"));
  const json = join(dir, "result.json");
  try {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/stress/main.ts", ...args, "--json", json],
      { cwd: ROOT, env: withoutDatabaseUrl(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const result = JSON.parse(await readFile(json, "utf8").catch(() => "null")) as ScenarioResult;
    return { code, output, result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const RUN = ["--chaos", "--duration", "15", "--postgres-bin", PG_BIN, "--drain-timeout", "40"];

describe("stress run with failover", () => {
  it("sync: one failover, nothing acknowledged lost, the correctness check passes", async () => {
    const { code, output, result } = await stress([...RUN, "--failover", "sync"]);
    expect(result, output).not.toBeNull();
    expect(result.correctness, output).toEqual({ ok: true, violations: [] });
    expect(code, output).toBe(0);
    expect(result.faults?.failover, output).toBeGreaterThanOrEqual(1);
    expect(output).toMatch(/\[chaos \d+\.\ds\] failover: primary node1 crashed/);
    expect(result.failover).toMatchObject({ mode: "sync", lostStarts: 0 });
    expect(result.completed).toBe(result.launched);
    // Counted inside the activity bodies: every completed instance ran its 5 activities.
    expect(result.activityExecutions!.activities).toBe(result.completed * 5);
    expect(result.activityExecutions!.duplicates).toBe(
      result.activityExecutions!.executions - result.activityExecutions!.activities,
    );
  }, 120_000);

  it("async: one failover; lost work is re-run and the correctness check passes", async () => {
    const { code, output, result } = await stress([...RUN, "--failover", "async"]);
    expect(result, output).not.toBeNull();
    expect(result.correctness, output).toEqual({ ok: true, violations: [] });
    expect(code, output).toBe(0);
    expect(result.faults?.failover, output).toBeGreaterThanOrEqual(1);
    expect(output).toMatch(
      /failover: primary node1 crashed .* async standby node2 (\d+ WAL bytes behind|at an unknown lag)/,
    );
    expect(result.failover?.mode).toBe("async");
    expect(result.completed).toBe(result.launched);
    expect(result.activityExecutions!.activities).toBe(result.completed * 5);
  }, 120_000);
});
