/** The live progress line: rewritten in place on a terminal, one line every 5 s otherwise. */
import type { Progress } from "./workload.ts";

/** `runtimeRssMb`: the largest runtime process's RSS when runtimes run in child processes. */
export function progressPrinter(
  scenario: string,
  runtimeRssMb: () => number | null = () => null,
): (p: Progress) => void {
  const tty = process.stderr.isTTY === true;
  let lastPrinted = 0;
  return (p) => {
    const secs = p.elapsedMs / 1000;
    const line =
      `[${scenario}] ${secs.toFixed(0)}s  completed ${p.completed}  ${(p.completed / Math.max(secs, 0.001)).toFixed(1)} orch/s` +
      `  in flight ${p.inFlight}  errors ${p.failed + p.startErrors}  rss ${Math.round(process.memoryUsage().rss / 1048576)} MB` +
      (runtimeRssMb() === null ? "" : `  runtime rss ${Math.round(runtimeRssMb()!)} MB`);
    if (tty) {
      process.stderr.write(`\r${line.padEnd(100)}`);
    } else if (p.elapsedMs - lastPrinted >= 5000) {
      lastPrinted = p.elapsedMs;
      process.stderr.write(`${line}\n`);
    }
  };
}

export function endProgressLine(): void {
  if (process.stderr.isTTY) process.stderr.write("\n");
}
