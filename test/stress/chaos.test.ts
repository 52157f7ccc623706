/**
 * Chaos mode's faults do what they say on a real server: backends with the runtime's
 * application_name are terminated, the idle transaction holds an xid while it lasts, each fault
 * is logged with its time, and faults the run may not inject (a server it did not start, a single
 * runtime) are never chosen.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Chaos } from "../../src/stress/chaos.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

let db: TestSchema;

beforeAll(async () => {
  db = await createTestSchema({ prefix: "chaos" });
});

afterAll(async () => {
  await db?.drop();
});

async function idleTransactions(admin: pg.Pool): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = 'pgd-chaos-idle' AND state = 'idle in transaction' AND backend_xid IS NOT NULL`,
  );
  return rows[0]!.n;
}

describe("chaos faults", () => {
  it("terminates only the runtime's backends and holds an idle transaction, logging each fault", async () => {
    const applicationName = `pgd-chaos-test-${randomUUID().slice(0, 8)}`;
    const victims = new pg.Pool({ connectionString: db.url, max: 3, application_name: applicationName });
    victims.on("error", () => {});
    const bystander = new pg.Client({ connectionString: db.url, application_name: "pgd-chaos-bystander" });
    await bystander.connect();
    const held = await Promise.all([victims.connect(), victims.connect(), victims.connect()]);
    for (const c of held) c.on("error", () => {});
    const lines: string[] = [];
    // Deterministic "random": every pause is the mean's 0.5, kinds come out of the bag in order.
    const chaos = new Chaos(
      { adminUrl: db.url, runtimeApplicationName: applicationName },
      { meanIntervalMs: 100, log: (line) => lines.push(line), random: () => 0 },
    );
    try {
      expect(chaos.describe()).toContain("not injecting restart-server");
      expect(chaos.describe()).toContain("kill-runtime");
      chaos.start();
      // With only terminate-backends and idle-in-transaction available, both come up quickly.
      const deadline = Date.now() + 10_000;
      while (!(chaos.counts()["terminate-backends"] && chaos.counts()["idle-in-transaction"])) {
        if (Date.now() > deadline) throw new Error(`faults not injected in time: ${lines.join("\n")}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await idleTransactions(db.pool)).toBeGreaterThan(0);
      const faults = await chaos.stop();
      expect(await idleTransactions(db.pool)).toBe(0); // stop() waits for the idle transaction to end
      expect(faults.every((f) => f.kind === "terminate-backends" || f.kind === "idle-in-transaction")).toBe(
        true,
      );
      expect(
        lines.some((l) => /^\[chaos \d+\.\d+s\] terminate-backends: 3 runtime backends terminated$/.test(l)),
      ).toBe(true);
      // The victims' connections are dead; the bystander's is not.
      await expect(held[0]!.query("SELECT 1")).rejects.toThrow();
      await expect(bystander.query("SELECT 1")).resolves.toBeTruthy();
    } finally {
      await chaos.stop();
      for (const c of held) c.release(true);
      await victims.end();
      await bystander.end();
    }
  });

  it("restarts the server and kills runtimes only through the capabilities it was given", async () => {
    const calls: string[] = [];
    const chaos = new Chaos(
      {
        adminUrl: db.url,
        runtimeApplicationName: `pgd-none-${randomUUID().slice(0, 8)}`,
        restartServer: async () => {
          calls.push("restart");
        },
        killRuntime: async () => {
          calls.push("kill");
          return "killed";
        },
        exhaustPool: async () => {
          calls.push("exhaust");
          return 0;
        },
      },
      { meanIntervalMs: 20, log: () => {}, random: () => 0 },
    );
    expect(chaos.describe()).not.toContain("not injecting");
    chaos.start();
    const deadline = Date.now() + 10_000;
    while (new Set(calls).size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await chaos.stop();
    expect(new Set(calls)).toEqual(new Set(["restart", "kill", "exhaust"]));
    expect(chaos.total()).toBe(chaos.faults.filter((f) => f.injected).length);
  });
});
