/**
 * The stress run's history check must catch what chaos could break: a duplicated completion, a
 * gap in event ids, a second start, a missing terminal event, an activity never completed.
 */
import { describe, expect, it } from "vitest";
import type { Event } from "../../src/provider/types.ts";
import { checkExecutionHistory } from "../../src/stress/correctness.ts";

const base = { instance_id: "i", execution_id: 1, timestamp_ms: 0, duroxide_version: "0.1.0" };
const started = (id: number) =>
  ({
    ...base,
    event_id: id,
    source_event_id: null,
    type: "OrchestrationStarted",
    name: "o",
    version: "1.0.0",
    input: "null",
    parent_instance: null,
    parent_id: null,
  }) as unknown as Event;
const scheduled = (id: number) =>
  ({
    ...base,
    event_id: id,
    source_event_id: null,
    type: "ActivityScheduled",
    name: "a",
    input: "1",
  }) as unknown as Event;
const completed = (id: number, source: number) =>
  ({
    ...base,
    event_id: id,
    source_event_id: source,
    type: "ActivityCompleted",
    result: "2",
  }) as unknown as Event;
const done = (id: number) =>
  ({
    ...base,
    event_id: id,
    source_event_id: null,
    type: "OrchestrationCompleted",
    output: "2",
  }) as unknown as Event;

describe("stress history check", () => {
  it("accepts a well-formed history", () => {
    expect(checkExecutionHistory("i", [started(1), scheduled(2), completed(3, 2), done(4)], true)).toEqual(
      [],
    );
  });

  it("reports an activity completed twice", () => {
    const problems = checkExecutionHistory(
      "i",
      [started(1), scheduled(2), completed(3, 2), completed(4, 2), done(5)],
      true,
    );
    expect(problems).toEqual([expect.stringContaining("ActivityScheduled #2 completed 2 times")]);
  });

  it("reports a gap in event ids", () => {
    const problems = checkExecutionHistory("i", [started(1), scheduled(2), completed(4, 2), done(5)], true);
    expect(problems.some((p) => p.includes("not contiguous"))).toBe(true);
  });

  it("reports a second start and a missing terminal event", () => {
    const problems = checkExecutionHistory("i", [started(1), started(2), scheduled(3)], true);
    expect(problems.some((p) => p.includes("exactly one OrchestrationStarted"))).toBe(true);
    expect(problems.some((p) => p.includes("exactly one terminal event"))).toBe(true);
  });

  it("reports an activity that never completed in a completed execution", () => {
    const problems = checkExecutionHistory("i", [started(1), scheduled(2), done(3)], true);
    expect(problems).toEqual([expect.stringContaining("ActivityScheduled #2 never completed")]);
  });
});
