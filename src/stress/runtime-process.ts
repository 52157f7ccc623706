/**
 * Child-process entry point for `--runtimes N`: runs one runtime on the shared schema until the
 * parent says stop, then reports its CPU time and peak RSS.
 *
 * The parent decides when this process ends: SIGINT/SIGTERM/SIGHUP are ignored here (on Ctrl-C
 * the terminal signals the whole process group, and the parent then stops us in order), and if the
 * parent dies (its IPC channel closes) this process stops its runtime and exits, never orphaned.
 */
import type { PostgresProvider } from "../provider/postgres-provider.ts";
import type { Runtime } from "../runtime/index.ts";
import { buildRuntime, holdPool, type RuntimeSpec } from "./runtime-host.ts";

const spec = JSON.parse(process.env.PGD_STRESS_SPEC ?? "null") as RuntimeSpec | null;
if (!spec || !process.send) {
  console.error(
    "runtime-process.ts is started by the stress binary (needs PGD_STRESS_SPEC and an IPC channel)",
  );
  process.exit(2);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});

let built: { runtime: Runtime; provider: PostgresProvider } | null = null;
let stopping: Promise<void> | null = null;

/** Stop the runtime (if it started) and exit; `report` sends the usage figures first. */
function stop(report: boolean, drainMs: number): Promise<void> {
  stopping ??= (async () => {
    try {
      await built?.runtime.shutdown(drainMs);
      await built?.provider.close();
    } catch {
      // exiting anyway
    }
    if (report && process.connected) {
      const cpu = process.cpuUsage();
      process.send?.({
        type: "stopped",
        cpuSec: (cpu.user + cpu.system) / 1e6,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      });
    }
    process.disconnect?.();
    process.exit(0);
  })();
  return stopping;
}

// Registered before the runtime starts: a stop that arrives while starting is not lost.
process.on("message", async (message: { type?: string; ms?: number }) => {
  if (message?.type === "exhaust-pool" && built) {
    const held = await holdPool(built.provider.pool, message.ms ?? 1000);
    process.send?.({ type: "pool-released", held });
    return;
  }
  if (message?.type === "stop") await stop(true, 10_000);
});
process.on("disconnect", () => void stop(false, 2000));

built = await buildRuntime(spec);
if (!stopping) {
  await built.runtime.start();
  process.send({ type: "started" });
}
// The parent shows the runtimes' memory in its progress line, so growth over a long run is visible.
setInterval(
  () => process.send?.({ type: "memory", rssMb: process.memoryUsage().rss / 1048576 }),
  5000,
).unref();
