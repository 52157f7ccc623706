import { describe, expect, it } from "vitest";
import { createTestSchema } from "../src/testing/test-schema.ts";

describe("test database", () => {
  it("migrates a fresh schema with the core tables", async () => {
    const db = await createTestSchema();
    try {
      const { rows } = await db.pool.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
        [db.schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining([
          "executions",
          "history",
          "instance_locks",
          "instances",
          "orchestrator_queue",
          "worker_queue",
        ]),
      );
    } finally {
      await db.drop();
    }
  });
});
