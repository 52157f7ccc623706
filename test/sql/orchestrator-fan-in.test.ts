/**
 * Messages of a locked instance are hidden from orchestrator fetch peeks (orchestrator_queue.held_by)
 * so a fan-in arriving mid-turn is never walked: born hidden at insert, hidden by the first fetch
 * that meets one that is not, and back when the lock is released (ack, abandon) or taken over after
 * expiry. These tests pin that hiding never strands a message, never hands one out twice, keeps
 * each instance's messages in enqueue order and keeps attempt counting, also with concurrent
 * enqueuers and fetchers.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { createTestSchema, type TestSchema, testDatabaseUrl } from "../../src/testing/test-schema.ts";

const NOW = 1_700_000_000_000;
const LOCK_MS = 30_000;

let store: TestSchema;
let s: string;

beforeAll(async () => {
  store = await createTestSchema({ prefix: "orch_fan_in" });
  s = quoteSchema(store.schema);
});

afterAll(async () => {
  await store.drop();
});

beforeEach(async () => {
  await store.pool.query(
    `TRUNCATE ${s}.orchestrator_queue, ${s}.instance_locks, ${s}.instances, ${s}.executions, ${s}.history`,
  );
});

type Db = Pick<pg.Pool, "query">;

/** An instance row and a running first execution, so fetches serve any message kind. */
async function start(...ids: string[]): Promise<void> {
  await store.pool.query(
    `INSERT INTO ${s}.instances (instance_id, orchestration_name, orchestration_version, created_at_ms, updated_at_ms)
     SELECT id, 'FanIn', '1.0.0', 0, 0 FROM unnest($1::text[]) id`,
    [ids],
  );
  await store.pool.query(
    `INSERT INTO ${s}.executions (instance_id, execution_id, status, started_at_ms)
     SELECT id, 1, 'Running', 0 FROM unnest($1::text[]) id`,
    [ids],
  );
}

async function enqueue(instance: string, payload: string, now = NOW, db: Db = store.pool): Promise<void> {
  await db.query(`SELECT ${s}.enqueue_orchestrator_item($1, 'ExternalRaised', $2, NULL, 0, $3)`, [
    instance,
    payload,
    now,
  ]);
}

interface Fetched {
  instance: string;
  messages: string[];
  token: string;
  attempts: number;
}

async function fetch(now = NOW, db: Db = store.pool): Promise<Fetched | null> {
  const { rows } = await db.query<{
    instance_id: string;
    messages: string[];
    lock_token: string;
    attempt_count: number;
  }>(
    `SELECT instance_id, messages, lock_token, attempt_count FROM ${s}.fetch_orchestration_item($1, $2, NULL, NULL)`,
    [now, LOCK_MS],
  );
  const r = rows[0];
  return r
    ? { instance: r.instance_id, messages: r.messages, token: r.lock_token, attempts: r.attempt_count }
    : null;
}

async function ack(token: string, now = NOW, db: Db = store.pool): Promise<void> {
  await db.query(`SELECT ${s}.ack_orchestration_item($1, $2, $3::json)`, [token, now, '{"execution_id": 1}']);
}

async function heldCount(instance: string): Promise<number> {
  const { rows } = await store.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${s}.orchestrator_queue WHERE instance_id = $1 AND held_by IS NOT NULL`,
    [instance],
  );
  return Number(rows[0]!.n);
}

describe("messages of a locked instance", () => {
  it("arrive hidden, are never served mid-turn, and come back in order when the turn is acked", async () => {
    await start("fan", "other");
    await enqueue("fan", "first");
    const turn = await fetch();
    expect(turn).toMatchObject({ instance: "fan", messages: ["first"] });

    for (let i = 0; i < 50; i++) await enqueue("fan", `m${i}`);
    expect(await heldCount("fan")).toBe(50);
    await enqueue("other", "o1");
    const other = await fetch();
    expect(other).toMatchObject({ instance: "other", messages: ["o1"] });
    expect(await fetch()).toBeNull();

    await ack(turn!.token);
    expect(await heldCount("fan")).toBe(0);
    const next = await fetch();
    expect(next).toMatchObject({ instance: "fan", attempts: 1 });
    expect(next!.messages).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  it("come back when the turn is abandoned, with or without a delay", async () => {
    await start("fan");
    await enqueue("fan", "first");
    const turn = await fetch();
    await enqueue("fan", "late");
    expect(await heldCount("fan")).toBe(1);
    await store.pool.query(`SELECT ${s}.abandon_orchestration_item($1, $2, 5000, false)`, [turn!.token, NOW]);
    expect(await heldCount("fan")).toBe(0);
    // "late" is ready now, the abandoned "first" only after its delay: the turn takes what is visible.
    expect(await fetch()).toMatchObject({ instance: "fan", messages: ["late"] });
  });

  it("are taken with the expired batch by the fetch that takes the lock over, attempts counted", async () => {
    await start("fan");
    await enqueue("fan", "first");
    const crashed = await fetch();
    for (let i = 0; i < 20; i++) await enqueue("fan", `m${i}`);
    expect(await heldCount("fan")).toBe(20);
    expect(await fetch(NOW + LOCK_MS - 1)).toBeNull();

    const takeover = await fetch(NOW + LOCK_MS);
    expect(takeover!.token).not.toBe(crashed!.token);
    expect(takeover!.messages).toEqual(["first", ...Array.from({ length: 20 }, (_, i) => `m${i}`)]);
    expect(takeover!.attempts).toBe(2);
    expect(await heldCount("fan")).toBe(0);
    await expect(ack(crashed!.token, NOW + LOCK_MS)).rejects.toMatchObject({ code: "PD001" });
  });

  it("behind a lock that expired with no batch left are found through the lock and go first", async () => {
    await start("fan", "younger");
    await store.pool.query(
      `INSERT INTO ${s}.instance_locks (instance_id, lock_token, locked_until, locked_at) VALUES ('fan', 'gone', $1, $2)`,
      [NOW + 100, NOW - 100],
    );
    await enqueue("fan", "hidden", NOW - 5);
    expect(await heldCount("fan")).toBe(1);
    await enqueue("younger", "y", NOW - 1);
    expect(await fetch(NOW)).toMatchObject({ instance: "younger" });
    // Only the expired lock row leads to the hidden message; it is older than "younger"'s next one.
    await enqueue("younger", "y2", NOW + 50);
    expect(await fetch(NOW + 100)).toMatchObject({ instance: "fan", messages: ["hidden"] });
  });

  it("that became visible during the turn are hidden by the first fetch that meets them", async () => {
    await start("fan", "other");
    await enqueue("fan", "first");
    const turn = await fetch();
    // Visible only later: left unhidden at insert.
    await store.pool.query(
      `SELECT ${s}.enqueue_orchestrator_item('fan', 'ExternalRaised', 'due', NULL, 100, $1)`,
      [NOW],
    );
    expect(await heldCount("fan")).toBe(0);
    await enqueue("other", "o1", NOW + 100);
    expect(await fetch(NOW + 100)).toMatchObject({ instance: "other" });
    expect(await heldCount("fan")).toBe(1);
    await ack(turn!.token, NOW + 100);
    expect(await fetch(NOW + 100)).toMatchObject({ instance: "fan", messages: ["due"] });
  });

  it("a timer a turn sets for its own instance is not hidden, and an inserter cannot hide a row", async () => {
    await start("fan");
    await enqueue("fan", "first");
    const turn = await fetch();
    await store.pool.query(`SELECT ${s}.enqueue_orchestrator_item('fan', 'TimerFired', 't', $1, 0, $2)`, [
      NOW + 1000,
      NOW,
    ]);
    await store.pool.query(
      `INSERT INTO ${s}.orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms, held_by)
       VALUES ('nobody-holds-this', 'ExternalRaised', 'x', $1, $1, 'forged')`,
      [NOW],
    );
    const { rows } = await store.pool.query(
      `SELECT instance_id, held_by FROM ${s}.orchestrator_queue WHERE lock_token IS NULL ORDER BY id`,
    );
    expect(rows).toEqual([
      { instance_id: "fan", held_by: null },
      { instance_id: "nobody-holds-this", held_by: null },
    ]);
    await ack(turn!.token);
  });

  it("an instance's deletion drops its hidden messages with its lock", async () => {
    await start("fan");
    await enqueue("fan", "first");
    await fetch();
    await enqueue("fan", "hidden");
    await store.pool.query(`SELECT * FROM ${s}.delete_instances_atomic(ARRAY['fan'], true)`);
    const { rows } = await store.pool.query(`SELECT count(*)::int AS n FROM ${s}.orchestrator_queue`);
    expect(rows[0].n).toBe(0);
  });
});

describe("a fan-in under concurrent enqueuers and fetchers", () => {
  const ENQUEUERS = 4;
  const PER_ENQUEUER = 150;
  const OTHERS = 12;

  /** Payload "<enqueuer>:<seq>": per enqueuer, enqueue order is seq order. */
  function assertOrderedOnce(batches: Fetched[], expected: Map<string, number>): void {
    const seen = new Map<string, number>();
    const last = new Map<string, number>();
    for (const b of batches) {
      for (const m of b.messages) {
        const key = `${b.instance}|${m}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        const [enqueuer, seq] = m.split(":");
        const stream = `${b.instance}|${enqueuer}`;
        expect(Number(seq), `${stream} out of order`).toBeGreaterThan(last.get(stream) ?? -1);
        last.set(stream, Number(seq));
      }
    }
    for (const [key, n] of seen) expect(n, `${key} delivered ${n} times`).toBe(1);
    for (const [instance, count] of expected) {
      const delivered = [...seen.keys()].filter((k) => k.startsWith(`${instance}|`)).length;
      expect(delivered, `messages of ${instance}`).toBe(count);
    }
  }

  async function run(release: "ack" | "expire"): Promise<void> {
    const others = Array.from({ length: OTHERS }, (_, i) => `other-${i}`);
    await start("fan", ...others);
    await enqueue("fan", "holder:0");
    const holder = await fetch();
    expect(holder?.instance).toBe("fan");

    const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: ENQUEUERS + 3 });
    pool.on("error", () => {});
    const batches: Fetched[] = [];
    let enqueuing = true;
    try {
      const enqueuers = Array.from({ length: ENQUEUERS }, async (_, e) => {
        for (let k = 0; k < PER_ENQUEUER; k++) {
          await enqueue("fan", `e${e}:${k}`, NOW, pool);
          if (k % 10 === 0) await enqueue(others[(e * PER_ENQUEUER + k) % OTHERS]!, `e${e}:${k}`, NOW, pool);
        }
      });
      // Fetchers run while the fan-in arrives; the holder's lock is live throughout.
      const fetchers = Array.from({ length: 3 }, async () => {
        while (enqueuing) {
          const f = await fetch(NOW, pool);
          if (!f) {
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          expect(f.instance).not.toBe("fan");
          batches.push(f);
          await ack(f.token, NOW, pool);
        }
      });
      await Promise.all(enqueuers);
      enqueuing = false;
      await Promise.all(fetchers);

      // The lock goes: acked (release) or left to expire (take-over). Concurrent fetchers race
      // for what is left; nothing may stay behind.
      const at = release === "ack" ? NOW : NOW + LOCK_MS;
      batches.push(holder!);
      if (release === "ack") await ack(holder!.token, NOW, pool);
      const finals = Array.from({ length: 3 }, async () => {
        for (let f = await fetch(at, pool); f; f = await fetch(at, pool)) {
          batches.push(f);
          await ack(f.token, at, pool);
        }
      });
      await Promise.all(finals);
    } finally {
      await pool.end();
    }

    const left = await store.pool.query(`SELECT count(*)::int AS n FROM ${s}.orchestrator_queue`);
    expect(left.rows[0].n).toBe(0);
    expect((await store.pool.query(`SELECT count(*)::int AS n FROM ${s}.instance_locks`)).rows[0].n).toBe(0);
    const expected = new Map<string, number>([["fan", ENQUEUERS * PER_ENQUEUER + 1]]);
    for (const o of others) expected.set(o, 0);
    for (let e = 0; e < ENQUEUERS; e++)
      for (let k = 0; k < PER_ENQUEUER; k += 10) {
        const o = others[(e * PER_ENQUEUER + k) % OTHERS]!;
        expected.set(o, expected.get(o)! + 1);
      }
    // With "expire", the holder's batch is counted from its (never acked) fetch and taken again
    // by the take-over: drop the take-over's copy of "holder:0" before counting.
    if (release === "expire") {
      const takeover = batches.find((b) => b.instance === "fan" && b.token !== holder!.token);
      expect(takeover?.messages[0]).toBe("holder:0");
      expect(takeover?.attempts).toBe(2);
      takeover!.messages = takeover!.messages.slice(1);
    }
    assertOrderedOnce(batches, expected);
  }

  it("nothing is stranded or served twice when the holder acks", async () => {
    await run("ack");
  }, 60_000);

  it("nothing is stranded or served twice when the holder's lock expires", async () => {
    await run("expire");
  }, 60_000);
});
