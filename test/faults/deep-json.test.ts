/**
 * Deeply nested input (docs/limits.md): deeper than ~1,810 levels it used to be refused only by
 * a bare `RangeError: Maximum call stack size exceeded`. Depth is now checked iteratively against
 * maxJsonDepth (default 512), at the client and for activity results, with an error naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJson } from "../../src/runtime/json.ts";
import { DEFAULT_LIMITS, LimitError } from "../../src/runtime/limits.ts";
import { createHarness, type Harness } from "../runtime/harness.ts";

/** `depth` arrays nested in one another, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

let h: Harness;

beforeAll(async () => {
  h = await createHarness("faults_deep");
  const rt = h.runtime();
  rt.registerActivity("Deep", async (_ctx, depth: number) => nested(depth));
  rt.registerOrchestration("DeepResult", function* (ctx, depth: number) {
    return yield ctx.scheduleActivity("Deep", depth);
  });
  await rt.start();
});

afterAll(async () => {
  await h?.close();
});

describe("deeply nested JSON", () => {
  it("is refused at the client with the limit's error, however deep", async () => {
    for (const depth of [513, 5_000, 200_000]) {
      const error = await h.client
        .startOrchestration(`deep-${depth}`, "DeepResult", nested(depth))
        .catch((e) => e);
      expect(error).toBeInstanceOf(LimitError);
      expect((error as Error).message).toMatch(
        /^input of orchestration 'DeepResult' is nested deeper than the limit maxJsonDepth = 512 levels/,
      );
    }
    await expect(h.client.raiseEvent("deep-x", "e", nested(600))).rejects.toThrow(/maxJsonDepth = 512/);
    expect(await h.client.getStatus("deep-513")).toEqual({ status: "NotFound" });
  });

  it("is accepted up to the limit, which is configurable", () => {
    expect(() => toJson(nested(DEFAULT_LIMITS.maxJsonDepth), "x", DEFAULT_LIMITS)).not.toThrow();
    expect(() => toJson(nested(11), "x", { ...DEFAULT_LIMITS, maxJsonDepth: 10 })).toThrow(
      /maxJsonDepth = 10 levels/,
    );
    // Cycles are still reported as such, not as depth.
    const cycle: unknown[] = [];
    cycle.push([cycle]);
    expect(() => toJson(cycle, "x")).toThrow(/\$\[0\]\[0\] is a circular reference/);
  });

  it("an activity result nested too deep fails the activity with the limit's error", async () => {
    await h.client.startOrchestration("deep-result", "DeepResult", 3_000);
    const status = await h.client.waitForOrchestration("deep-result", 20_000);
    expect(status.status).toBe("Failed");
    expect((status as { error: string }).error).toMatch(
      /result of activity 'Deep' is nested deeper than the limit maxJsonDepth = 512 levels/,
    );
  });
});
