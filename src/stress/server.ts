/**
 * The server a stress run starts for itself (embedded, or from `--postgres-bin`) and how the run
 * gets rid of it: stopped, and its temp data directory removed, also when the run is interrupted.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createRequire } from "node:module";
import {
  type EmbeddedServer,
  loadEmbeddedPostgres,
  startEmbeddedPostgres,
} from "../testing/embedded-postgres.ts";
import { startLocalPostgres } from "../testing/local-postgres.ts";
import { descendantsOf } from "./lifecycle.ts";

/** Longest wait for the server's own stop before it is shut down the hard way. */
const STOP_TIMEOUT_MS = 15_000;

export async function startRunServer(postgresBin: string | null): Promise<EmbeddedServer> {
  if (postgresBin) return await startLocalPostgres(postgresBin);
  await loadEmbeddedPostgres();
  releaseEmbeddedSignalHandlers();
  return await startEmbeddedPostgres();
}

/**
 * embedded-postgres (through async-exit-hook) answers SIGINT/SIGTERM/SIGHUP by stopping its
 * servers and calling process.exit: the run could not report, drop its schema or remove the data
 * directory. The run handles those signals itself, so it takes these handlers away.
 */
function releaseEmbeddedSignalHandlers(): void {
  try {
    const hook = createRequire(import.meta.resolve("embedded-postgres"))("async-exit-hook") as {
      hookedEvents(): string[];
      unhookEvent(event: string): void;
    };
    for (const event of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"]) {
      if (hook.hookedEvents().includes(event)) hook.unhookEvent(event);
    }
  } catch {
    // a different embedded-postgres without async-exit-hook: nothing to release
  }
}

/** A postgres process among our children (the server may already have exited on a Ctrl-C). */
function serverRunning(): boolean {
  try {
    return descendantsOf(process.pid).some((p) => p.comm === "postgres");
  } catch {
    return true; // no `ps`: assume it runs and let stop() find out
  }
}

/**
 * Stop the server and remove its data directory. A Ctrl-C in a terminal signals the server too,
 * and embedded-postgres's stop() then waits for an exit that already happened: its wait is bounded,
 * and the directory is removed here in every case.
 */
export async function stopRunServer(server: EmbeddedServer): Promise<void> {
  if (serverRunning()) {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([server.stop().then(() => "stopped" as const), timedOut]).catch(
      (error: unknown) => {
        console.error(`stress: stopping the server failed: ${(error as Error).message}`);
        return "failed" as const;
      },
    );
    clearTimeout(timer);
    if (outcome !== "stopped") {
      for (const p of descendantsOf(process.pid)) {
        if (p.comm !== "postgres") continue;
        try {
          process.kill(p.pid, "SIGQUIT"); // immediate shutdown, backends included
        } catch {
          // already gone
        }
      }
    }
  }
  await rm(server.dataDir, { recursive: true, force: true });
  if (existsSync(server.dataDir)) console.error(`stress: could not remove ${server.dataDir}`);
}
