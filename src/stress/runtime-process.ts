/**
 * Child-process entry point for `--runtimes N`: runs one runtime on the shared schema until the
 * parent says stop, then reports its CPU time and peak RSS.
 */
import { buildRuntime, holdPool, type RuntimeSpec } from "./runtime-host.ts";

const spec = JSON.parse(process.env.PGD_STRESS_SPEC ?? "null") as RuntimeSpec | null;
if (!spec || !process.send) {
  console.error(
    "runtime-process.ts is started by the stress binary (needs PGD_STRESS_SPEC and an IPC channel)",
  );
  process.exit(2);
}

const { runtime, provider } = await buildRuntime(spec);
await runtime.start();
process.send({ type: "started" });
// The parent shows the runtimes' memory in its progress line, so growth over a long run is visible.
setInterval(
  () => process.send?.({ type: "memory", rssMb: process.memoryUsage().rss / 1048576 }),
  5000,
).unref();

process.on("message", async (message: { type?: string; ms?: number }) => {
  if (message?.type === "exhaust-pool") {
    const held = await holdPool(provider.pool, message.ms ?? 1000);
    process.send?.({ type: "pool-released", held });
    return;
  }
  if (message?.type !== "stop") return;
  await runtime.shutdown(10_000);
  await provider.close();
  const cpu = process.cpuUsage();
  process.send?.({
    type: "stopped",
    cpuSec: (cpu.user + cpu.system) / 1e6,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  });
  process.disconnect?.();
  process.exit(0);
});
