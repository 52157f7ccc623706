/**
 * The stress binary's life cycle, run as users run it (a separate process on the real server):
 * SIGINT/SIGTERM stop the run, print the partial figures, drop its schema, leave no process
 * behind and exit 130/143 (also when the signal goes to `npm`, whose shell does not pass it on);
 * a plain run writes no tracked file; a silent server or a wrong password fail fast; `--help` of
 * the schema-docs script touches nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descendantsOf } from "../../src/stress/lifecycle.ts";
import { testDatabaseUrl } from "../../src/testing/test-schema.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";

/** The environment of a stress process: no npm variables (the test runner may run under npm). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" };
  for (const key of Object.keys(env)) if (key.startsWith("npm_")) delete env[key];
  delete env.DATABASE_URL;
  return env;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the process exited and every holder of its output pipes closed them. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(command: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Run {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

function stress(args: string[]): Run {
  return start(process.execPath, ["--import", "tsx", "src/stress/main.ts", ...args]);
}

async function waitFor(what: string, condition: () => boolean, run: Run, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Started: the workload is launching, and has been for a moment (so there is something to report). */
async function waitUntilLaunching(run: Run): Promise<void> {
  await waitFor("the run to start launching", () => run.stdout().includes("launching for"), run);
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

/** The processes still running among `pids`, after giving them a few seconds to finish exiting. */
async function survivors(pids: number[]): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let alive = pids.filter(running);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    alive = alive.filter(running);
  }
  return alive;
}

function runSchema(stdout: string): string {
  const match = /schema (stress_\w+): launching/.exec(stdout);
  if (!match) throw new Error(`no schema in the output:\n${stdout}`);
  return match[1]!;
}

let url: string;
let admin: pg.Pool;

beforeAll(() => {
  url = testDatabaseUrl();
  admin = new pg.Pool({ connectionString: url, max: 1 });
});

afterAll(async () => {
  await admin?.end();
});

async function schemaExists(schema: string): Promise<boolean> {
  const { rows } = await admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
  return rows.length > 0;
}

describe("stress binary: interrupted runs", () => {
  it("SIGINT: partial figures, schema dropped, runtime processes gone, exit 130", async () => {
    const run = stress(["--database-url", url, "--duration", "60", "--runtimes", "2"]);
    await waitUntilLaunching(run);
    const children = descendantsOf(run.child.pid!);
    expect(children.filter((p) => p.comm === "node")).toHaveLength(2); // the two runtime processes
    run.child.kill("SIGINT");
    const { code } = await run.done;
    expect(code, run.stderr()).toBe(130);
    expect(run.stdout()).toContain("INTERRUPTED by SIGINT: partial figures");
    expect(run.stdout()).toMatch(/│ fan-out +│ \d+ +│ \d+ .*│ interrupted │/);
    expect(await schemaExists(runSchema(run.stdout()))).toBe(false);
    expect(await survivors(children.map((p) => p.pid))).toEqual([]);
  }, 120_000);

  it("SIGTERM: the same, exit 143", async () => {
    const run = stress(["--database-url", url, "--duration", "60"]);
    await waitUntilLaunching(run);
    const children = descendantsOf(run.child.pid!);
    run.child.kill("SIGTERM");
    const { code } = await run.done;
    expect(code, run.stderr()).toBe(143);
    expect(run.stdout()).toContain("INTERRUPTED by SIGTERM");
    expect(await schemaExists(runSchema(run.stdout()))).toBe(false);
    expect(await survivors(children.map((p) => p.pid))).toEqual([]);
  }, 120_000);

  it("SIGTERM to `npm run stress`: the run still stops and cleans up, nothing keeps running", async () => {
    // npm passes the signal to `sh -c`, which dies without passing it on: the run notices that its
    // launcher is gone. The run's output still arrives: it holds the same pipes.
    const env = { ...cleanEnv(), PATH: process.env.PATH };
    const run = start(
      "npm",
      ["run", "--silent", "stress", "--", "--database-url", url, "--duration", "60", "--runtimes", "2"],
      env,
    );
    await waitUntilLaunching(run);
    const tree = descendantsOf(run.child.pid!); // sh, tsx, the stress process, its runtimes
    expect(tree.length).toBeGreaterThanOrEqual(4);
    run.child.kill("SIGTERM");
    await run.done;
    expect(run.stdout()).toContain("INTERRUPTED by SIGTERM");
    expect(await schemaExists(runSchema(run.stdout()))).toBe(false);
    expect(await survivors(tree.map((p) => p.pid))).toEqual([]);
  }, 120_000);

  it("SIGINT with a server it started (--postgres-bin): the temp data directory is removed", async () => {
    const run = stress(["--postgres-bin", POSTGRES_BIN, "--duration", "60"]);
    await waitUntilLaunching(run);
    const dataDir = /started for this run in (\S+)\)/.exec(run.stdout())?.[1];
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(true);
    const children = descendantsOf(run.child.pid!);
    expect(children.some((p) => p.comm === "postgres")).toBe(true);
    run.child.kill("SIGINT");
    const { code } = await run.done;
    expect(code, run.stderr()).toBe(130);
    expect(run.stdout()).toContain("INTERRUPTED by SIGINT");
    expect(existsSync(dataDir!)).toBe(false);
    expect(await survivors(children.map((p) => p.pid))).toEqual([]);
  }, 120_000);
});

describe("stress binary: results files", () => {
  const resultsDir = join(ROOT, "stress", "results");
  const snapshot = () =>
    readdirSync(resultsDir)
      .map((f) => {
        const s = statSync(join(resultsDir, f));
        return `${f} ${s.size} ${s.mtimeMs}`;
      })
      .sort();

  it("a plain run writes nothing under stress/results; --record DIR appends to DIR/<server>.md", async () => {
    const before = snapshot();
    const plain = stress(["--database-url", url, "--duration", "2"]);
    expect((await plain.done).code, plain.stderr()).toBe(0);
    expect(snapshot()).toEqual(before);

    const dir = mkdtempSync(join(tmpdir(), "pgd-stress-record-"));
    try {
      const recorded = stress(["--database-url", url, "--duration", "2", "--record", dir]);
      expect((await recorded.done).code, recorded.stderr()).toBe(0);
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^127\.0\.0\.1-PostgreSQL-.*\.md$/);
      const rows = readFileSync(join(dir, files[0]!), "utf8")
        .split("\n")
        .filter((line) => line.includes("| fan-out |"));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toContain("| ok |");
      expect(recorded.stdout()).toContain(`results appended to ${join(dir, files[0]!)}`);
      expect(snapshot()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("stress binary: bad servers fail fast", () => {
  let silent: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // Accepts TCP connections and never says a word.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it("a server that accepts TCP but never answers: exit 1 after the connect timeout, with a clear error", async () => {
    const port = (silent.address() as { port: number }).port;
    const t0 = Date.now();
    const run = stress(["--database-url", `postgres://u:secret@127.0.0.1:${port}/db`, "--duration", "2"]);
    const { code } = await run.done;
    expect(code).toBe(1);
    expect(run.stderr()).toContain(
      `cannot connect to postgres://u:***@127.0.0.1:${port}/db: no answer within 5 s`,
    );
    expect(run.stderr()).not.toContain("secret");
    expect(Date.now() - t0).toBeLessThan(45_000); // 5 s timeout plus process start-up on a busy machine
  }, 60_000);

  it("a wrong password: exit 1 with the server's reason", async () => {
    const bad = new URL(url);
    bad.password = "not-the-password";
    const run = stress(["--database-url", bad.toString(), "--duration", "2"]);
    const { code } = await run.done;
    expect(code).toBe(1);
    expect(run.stderr()).toMatch(/cannot connect to .*: password authentication failed/);
  }, 60_000);

  it("usage: --help exits 0 and runs nothing, an unknown flag exits 2", async () => {
    const help = stress(["--help"]);
    expect((await help.done).code).toBe(0);
    expect(help.stdout()).toContain("--record [dir]");
    expect(help.stdout()).not.toContain("server:");
    const unknown = stress(["--no-such-flag"]);
    expect((await unknown.done).code).toBe(2);
    expect(unknown.stderr()).toContain("unknown option '--no-such-flag'");
  }, 60_000);
});

describe("schema-docs script", () => {
  const docFiles = () =>
    [
      join(ROOT, "docs", "schema.sql"),
      ...readdirSync(join(ROOT, "docs", "migration-diffs")).map((f) =>
        join(ROOT, "docs", "migration-diffs", f),
      ),
    ]
      .map((f) => `${f} ${statSync(f).mtimeMs}`)
      .sort();

  it("`generate --help` prints usage and changes no file; an unknown flag exits 2", async () => {
    const before = docFiles();
    const help = start(process.execPath, ["--import", "tsx", "scripts/schema-docs.ts", "generate", "--help"]);
    expect((await help.done).code, help.stderr()).toBe(0);
    expect(help.stdout()).toContain("Usage:");
    expect(help.stdout()).not.toContain("wrote");
    const unknown = start(process.execPath, [
      "--import",
      "tsx",
      "scripts/schema-docs.ts",
      "generate",
      "--bogus",
    ]);
    expect((await unknown.done).code).toBe(2);
    expect(unknown.stdout()).not.toContain("wrote");
    expect(docFiles()).toEqual(before);
  }, 60_000);
});
