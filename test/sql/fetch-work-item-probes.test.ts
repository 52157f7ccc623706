/**
 * fetch_work_item probes partial indexes (fresh rows per tag and per session, deferred rows by
 * visible time, expired leases by lease end) instead of one id-ordered scan. These tests pin that
 * the probes together still pick the lowest available id across every kind of row, skip exactly
 * the rows the caller cannot take, and that concurrent fetchers never share a row and leave none
 * behind.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const NOW = 1_700_000_000_000;

let store: TestSchema;
let s: string;

beforeAll(async () => {
  store = await createTestSchema({ prefix: "fetch_probes" });
  s = quoteSchema(store.schema);
});

afterAll(async () => {
  await store.drop();
});

beforeEach(async () => {
  await store.pool.query(`TRUNCATE ${s}.worker_queue, ${s}.sessions`);
});

interface Row {
  visibleAt?: number;
  createdAt?: number;
  tag?: string | null;
  session?: string | null;
  lockedUntil?: number | null;
}

/** Insert one worker row and return its id. */
async function insert(row: Row = {}): Promise<number> {
  const createdAt = row.createdAt ?? NOW - 1000;
  const { rows } = await store.pool.query<{ id: string }>(
    `INSERT INTO ${s}.worker_queue (kind, work_item, visible_at_ms, created_at_ms, tag, session_id,
                                    lock_token, locked_until)
     VALUES ('ActivityExecute', 'item', $1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      row.visibleAt ?? createdAt,
      createdAt,
      row.tag ?? null,
      row.session ?? null,
      row.lockedUntil == null ? null : `old-${Math.random()}`,
      row.lockedUntil ?? null,
    ],
  );
  return Number(rows[0]!.id);
}

/** Call fetch_work_item; the id of the row it leased, or null. */
async function fetch(
  mode = "default_only",
  tags: string[] = [],
  owner: string | null = null,
): Promise<number | null> {
  const { rows } = await store.pool.query<{ lock_token: string | null }>(
    `SELECT lock_token FROM ${s}.fetch_work_item($1, 30000, $2, 30000, $3, $4)`,
    [NOW, owner, mode, tags],
  );
  const token = rows[0]?.lock_token;
  if (!token) return null;
  const leased = await store.pool.query<{ id: string }>(
    `SELECT id FROM ${s}.worker_queue WHERE lock_token = $1`,
    [token],
  );
  return Number(leased.rows[0]!.id);
}

describe("fetch_work_item over its probes", () => {
  it("takes rows in id order whichever probe finds them: expired lease, visible retry, fresh", async () => {
    const expired = await insert({ lockedUntil: NOW - 1 });
    const retry = await insert({ createdAt: NOW - 5000, visibleAt: NOW - 10 });
    const fresh = await insert();
    expect([await fetch(), await fetch(), await fetch(), await fetch()]).toEqual([
      expired,
      retry,
      fresh,
      null,
    ]);
  });

  it("never takes a live lease or a retry still hidden, however many precede a takeable row", async () => {
    for (let i = 0; i < 5; i++) await insert({ lockedUntil: NOW + 60_000 });
    for (let i = 0; i < 5; i++) await insert({ createdAt: NOW - 5000, visibleAt: NOW + 60_000 });
    const takeable = await insert();
    expect(await fetch()).toBe(takeable);
    expect(await fetch()).toBeNull();
  });

  it("serves each tag filter mode its rows, lowest id first", async () => {
    const gpu = await insert({ tag: "gpu" });
    const plain = await insert();
    const cpu = await insert({ tag: "cpu" });
    const gpu2 = await insert({ tag: "gpu" });
    expect(await fetch("default_only")).toBe(plain);
    expect(await fetch("tags", ["cpu", "gpu"])).toBe(gpu);
    expect(await fetch("any")).toBe(cpu);
    expect(await fetch("default_and", ["gpu"])).toBe(gpu2);
    expect(await fetch("any")).toBeNull();
  });

  it("skips sessions another owner holds and serves free and own sessions in id order", async () => {
    await store.pool.query(
      `INSERT INTO ${s}.sessions VALUES ('theirs', 'other', $1, $2), ('mine', 'me', $1, $2), ('lapsed', 'other', $3, $2)`,
      [NOW + 60_000, NOW, NOW - 1],
    );
    await insert({ session: "theirs" });
    const lapsed = await insert({ session: "lapsed" });
    await insert({ session: "theirs" });
    const mine = await insert({ session: "mine" });
    const neverClaimed = await insert({ session: "new" });
    expect(await fetch("default_only", [], null)).toBeNull(); // no owner: no session items
    expect([await fetch("default_only", [], "me"), await fetch("default_only", [], "me")]).toEqual([
      lapsed,
      mine,
    ]);
    expect(await fetch("default_only", [], "me")).toBe(neverClaimed);
    expect(await fetch("default_only", [], "me")).toBeNull();
    const owners = await store.pool.query(
      `SELECT session_id, owner_id FROM ${s}.sessions ORDER BY session_id`,
    );
    expect(owners.rows).toEqual([
      { session_id: "lapsed", owner_id: "me" },
      { session_id: "mine", owner_id: "me" },
      { session_id: "new", owner_id: "me" },
      { session_id: "theirs", owner_id: "other" },
    ]);
  });

  it("gives concurrent fetchers distinct rows and leaves none behind", async () => {
    const ids = new Set<number>();
    for (let i = 0; i < 40; i++) {
      ids.add(await insert(i % 4 === 0 ? { createdAt: NOW - 5000, visibleAt: NOW - 1 } : {}));
    }
    const taken: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          const id = await fetch();
          if (id === null) return;
          taken.push(id);
        }
      }),
    );
    expect(new Set(taken).size).toBe(taken.length);
    expect(new Set(taken)).toEqual(ids);
  });
});
