/**
 * Run the CLI in-process and capture what it prints, for the CLI tests.
 */
import { runCli } from "../../src/cli/main.ts";

export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

export async function cli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env });
  const stdout = out.join("\n");
  return { code, out: stdout, err: err.join("\n"), json: <T>() => JSON.parse(stdout) as T };
}

/** `--database-url URL --schema S` for a test schema. */
export function target(url: string, schema: string): string[] {
  return ["--database-url", url, "--schema", schema];
}
