import { describe, expect, it } from "vitest";
import { FailureStreak } from "../../src/runtime/failure-streak.ts";
import type { Logger } from "../../src/runtime/logger.ts";

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("failure streak logging", () => {
  it("warns once per outage, logs the retries at debug and reports the recovery", () => {
    const logger = recordingLogger();
    const streak = new FailureStreak("fetchWorkItem", logger);
    streak.succeeded(); // no outage: nothing to say
    streak.failed(new Error("terminating connection due to administrator command"), 100);
    streak.failed(new Error("connect ECONNREFUSED"), 200);
    streak.failed(new Error("connect ECONNREFUSED"), 400);
    streak.succeeded();
    streak.failed(new Error("the database system is shutting down"), 100);
    expect(logger.lines.map((l) => l.split(" ")[0])).toEqual(["warn", "debug", "debug", "info", "warn"]);
    expect(logger.lines[0]).toContain("fetchWorkItem failed");
    expect(logger.lines[0]).toContain("terminating connection due to administrator command");
    expect(logger.lines[3]).toMatch(/fetchWorkItem recovered after 3 failed attempt\(s\) over \d+ms/);
    expect(logger.lines[4]).toContain("shutting down");
  });
});
