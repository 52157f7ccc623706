/**
 * `pg-durable stress …` hands every argument, --help included, to the stress program.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { cli } from "./run.ts";

const run = promisify(execFile);

describe("stress", () => {
  it("passes --help to the stress program (its flags, exit 0)", async () => {
    const { stdout } = await run("npx", ["tsx", "src/cli/main.ts", "stress", "--help"], { timeout: 60_000 });
    expect(stdout).toMatch(/--scenario <name>/);
    expect(stdout).toMatch(/--duration <seconds>/);
  });

  it("returns the stress program's usage error for a bad flag value (exit 2)", async () => {
    expect((await cli(["stress", "--duration", "nope"])).code).toBe(2);
    expect((await cli(["stress", "--no-such-flag"])).code).toBe(2);
  });
});
