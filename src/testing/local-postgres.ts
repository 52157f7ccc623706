/**
 * A throw-away PostgreSQL server from binaries already on the machine (e.g. Debian's
 * /usr/lib/postgresql/15/bin), for runs that must restart the server they use: chaos mode may
 * only restart a server it started itself. Same shape as the embedded server.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type EmbeddedServer, freePort } from "./embedded-postgres.ts";

const PASSWORD = "postgres";
const READY_TIMEOUT_MS = 30_000;

/** initdb and postgres refuse to run as root: run them as the `postgres` user when we are root. */
export function serverUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

export function run(binary: string, args: string[], user: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...user, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${binary} exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

export async function waitUntilReady(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode} while starting`);
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export async function startLocalPostgres(
  binDir: string,
  settings: Record<string, string> = {},
): Promise<EmbeddedServer> {
  const dir = await mkdtemp(join(tmpdir(), "pg-durable-local-"));
  await chmod(dir, 0o755); // the server user must reach its data directory inside
  const dataDir = join(dir, "data");
  const user = serverUser();
  await mkdir(dataDir, { mode: 0o700 });
  if (user.uid !== undefined) await chown(dataDir, user.uid, user.gid ?? user.uid);
  const passwordFile = join(dir, "pwfile");
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
  // initdb fails on a bad binary directory or a Ctrl-C: leave no directory behind.
  await run(
    join(binDir, "initdb"),
    [
      `--pgdata=${dataDir}`,
      "--username=postgres",
      `--pwfile=${passwordFile}`,
      "--auth=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
    ],
    user,
  ).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  await rm(passwordFile);
  const port = await freePort();
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const flags = Object.entries({
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "", // TCP only: no socket directory to own
    max_connections: "300",
    shared_buffers: "256MB",
    ...settings,
  }).flatMap(([k, v]) => ["-c", `${k}=${v}`]);

  let server: ChildProcess;
  const start = async () => {
    server = spawn(join(binDir, "postgres"), ["-D", dataDir, "-p", String(port), ...flags], {
      ...user,
      stdio: "ignore",
    });
    await waitUntilReady(url, server);
  };
  // SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint, exit.
  const halt = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
    server.kill("SIGINT");
    await exited;
  };
  try {
    await start();
  } catch (error) {
    await halt().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    port,
    dataDir: dir,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await start();
    },
  };
}
