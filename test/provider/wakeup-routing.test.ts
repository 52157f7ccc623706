/**
 * Wake-up routing (docs/architecture.md, "Wake-ups"): the worker trigger's payloads (migrations/0018) and the
 * listener's choice of which waiting fetch each wake-up reaches, on real notifications.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import {
  orchestrationFetchProfile,
  parseArrival,
  type WaiterProfile,
  workFetchProfile,
} from "../../src/provider/wakeup-routing.ts";
import {
  type WakeToken,
  WakeupListener,
  type WakeupQueue,
  wakeupChannel,
} from "../../src/provider/wakeups.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

let db: TestSchema;
let listener: WakeupListener;

const LONG_WAIT_MS = 20_000;

/** A fetch waiting inside the listener, and whether (and by what) it has been woken. */
interface Waiting {
  woken: Promise<WakeToken | null>;
  settled: () => boolean;
}

function wait(queue: WakeupQueue, profile: WaiterProfile): Waiting {
  let done = false;
  const woken = listener
    .waitForChange(queue, listener.generation(queue), LONG_WAIT_MS, profile)
    .finally(() => {
      done = true;
    });
  return { woken, settled: () => done };
}

function within<T>(promise: Promise<T>, ms = 3_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not woken within ${ms} ms`)), ms)),
  ]);
}

/** Let anything that would be woken by now be woken. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

async function notify(queue: WakeupQueue, payload: unknown): Promise<void> {
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  await db.pool.query("SELECT pg_notify($1, $2)", [wakeupChannel(db.schema, queue), text]);
}

const session = (ownerId: string) => ({ ownerId, lockTimeoutMs: 30_000 });
const untagged = { kind: "defaultOnly" } as const;
const item = (tag: string | null, session: string | null, owner: string | null, n = 1) => ({
  n,
  first_id: 1,
  tag,
  session,
  owner,
});

beforeAll(async () => {
  db = await createTestSchema({ prefix: "wake_routing" });
  listener = new WakeupListener({ connectionString: db.url }, db.schema);
  listener.generation("work"); // connects
  const deadline = Date.now() + 10_000;
  while (listener.mode() !== "listen") {
    if (Date.now() > deadline) throw new Error("listener did not connect");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

afterAll(async () => {
  await listener?.close();
  await db?.drop();
});

describe("worker notifications (0018)", () => {
  it("describe each (tag, session) group of an insert: count, tag, session and its owner", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const payloads: string[] = [];
      client.on("notification", (message) => payloads.push(message.payload ?? ""));
      await client.query(`LISTEN ${pg.escapeIdentifier(wakeupChannel(db.schema, "work"))}`);
      const s = quoteSchema(db.schema);
      const now = Date.now();
      await db.pool.query(`INSERT INTO ${s}.sessions VALUES ('owned', 'slot-1', $1, $2)`, [
        now + 60_000,
        now,
      ]);
      const insert = (rows: [string | null, string | null][]) =>
        db.pool.query(
          `INSERT INTO ${s}.worker_queue (kind, work_item, visible_at_ms, created_at_ms, tag, session_id)
           SELECT 'ActivityExecute', '{}', $1, $1, t.tag, t.session FROM unnest($2::text[], $3::text[]) AS t(tag, session)`,
          [now, rows.map((r) => r[0]), rows.map((r) => r[1])],
        );
      await insert([
        [null, null],
        [null, null],
        ["gpu", null],
        [null, "owned"],
        [null, "free"],
      ]);
      const deadline = Date.now() + 3_000;
      while (payloads.length < 4 && Date.now() < deadline) await settle();
      const arrivals = payloads
        .map(parseArrival)
        .map(({ count, tag, session, owner }) => ({ count, tag, session, owner }));
      expect(arrivals).toHaveLength(4);
      expect(arrivals).toEqual(
        expect.arrayContaining([
          { count: 2, tag: null, session: null, owner: null },
          { count: 1, tag: "gpu", session: null, owner: null },
          { count: 1, tag: null, session: "owned", owner: "slot-1" },
          { count: 1, tag: null, session: "free", owner: null },
        ]),
      );

      // Too many groups to describe: one notification with the count alone.
      payloads.length = 0;
      await insert(Array.from({ length: 20 }, (_, i) => [`t${i}`, null]));
      while (payloads.length < 1 && Date.now() < deadline + 3_000) await settle();
      await settle();
      expect(payloads).toHaveLength(1);
      expect(parseArrival(payloads[0])).toMatchObject({ count: 20, described: false });
    } finally {
      await client.end();
    }
  });
});

describe("which waiting fetch a wake-up reaches", () => {
  it("wakes only a fetch whose tag filter takes the item, and a session item's owner", async () => {
    const plainA = wait("work", workFetchProfile(session("a"), untagged));
    const plainB = wait("work", workFetchProfile(session("b"), untagged));
    const gpu = wait("work", workFetchProfile(session("g"), { kind: "tags", tags: new Set(["gpu"]) }));
    await notify("work", item("gpu", null, null));
    expect(await within(gpu.woken)).not.toBeNull();
    await notify("work", item(null, "s-1", "b"));
    expect(await within(plainB.woken)).not.toBeNull();
    await settle();
    expect(plainA.settled()).toBe(false); // older, but the session is b's
    await notify("work", item(null, null, null));
    expect(await within(plainA.woken)).not.toBeNull();
  });

  it("wakes as many identical fetches as items arrived, no more", async () => {
    const profile = () => workFetchProfile(session(`slot-${Math.random()}`), untagged);
    const waiting = [wait("work", profile()), wait("work", profile()), wait("work", profile())];
    await notify("work", item(null, null, null, 2));
    await within(Promise.all([waiting[0]!.woken, waiting[1]!.woken]));
    await settle();
    expect(waiting[2]!.settled()).toBe(false);
    await notify("work", item(null, null, null));
    await within(waiting[2]!.woken);
  });

  it("passes a wake-up its fetch could not use on to a fetch of another kind, once per kind", async () => {
    const a = wait("work", workFetchProfile(session("a"), untagged));
    const b = wait("work", workFetchProfile(session("b"), untagged));
    await notify("work", item(null, "s-2", null)); // unowned: any fetch that claims sessions
    const token = await within(a.woken);
    await settle();
    expect(b.settled()).toBe(false);
    // a found nothing (someone claimed the session meanwhile): the wake-up goes on to b.
    const again = wait("work", workFetchProfile(session("a"), untagged));
    listener.passOn(token);
    expect(await within(b.woken)).toBe(token);
    // b found nothing either: a's kind was reached already, so the wake-up ends here.
    listener.passOn(token);
    await settle();
    expect(again.settled()).toBe(false);
    await notify("work", item(null, null, null));
    await within(again.woken);
  });

  it("passes a session's wake-up to the fetch that has claimed the session since", async () => {
    const a = wait("work", workFetchProfile(session("a"), untagged));
    const b = wait("work", workFetchProfile(session("b"), untagged));
    const c = wait("work", workFetchProfile(session("c"), untagged));
    await notify("work", item(null, "s-3", null));
    const token = await within(a.woken);
    listener.sessionFetched("s-3", "c");
    listener.passOn(token);
    expect(await within(c.woken)).toBe(token);
    await settle();
    expect(b.settled()).toBe(false);
    await notify("work", item(null, null, null));
    await within(b.woken);
  });

  it("wakes one orchestration fetch of each capability filter", async () => {
    const v = (major: number, minor: number, patch: number) => ({ major, minor, patch });
    const current = { supportedDuroxideVersions: [{ min: v(0, 0, 0), max: v(9, 0, 0) }] };
    const legacy = { supportedDuroxideVersions: [{ min: v(0, 0, 0), max: v(0, 0, 1) }] };
    const first = wait("orch", orchestrationFetchProfile(current));
    const second = wait("orch", orchestrationFetchProfile(current));
    const old = wait("orch", orchestrationFetchProfile(legacy));
    await notify("orch", "");
    await within(Promise.all([first.woken, old.woken]));
    await settle();
    expect(second.settled()).toBe(false);
    listener.interruptWaits();
    await within(second.woken);
  });
});
