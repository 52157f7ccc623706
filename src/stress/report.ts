/**
 * What a stress run reports: the end-of-run table, the JSON record (one object per scenario run,
 * stable field names so runs can be compared by tools) and the results file `--record` appends to.
 */
import { execFileSync } from "node:child_process";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Table from "cli-table3";
import type { CorrectnessReport } from "./correctness.ts";

export interface FailureCounts {
  infrastructure: number;
  configuration: number;
  application: number;
}

export interface ScenarioResult {
  scenario: string;
  config: Record<string, unknown>;
  server: string;
  durationSec: number;
  launched: number;
  completed: number;
  failed: FailureCounts;
  orchPerSec: number;
  activitiesPerSec: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  transactions: number;
  txPerOrch: number;
  /** With `--added-latency-ms`: round trips through the proxy (runtimes and client) per completed orchestration. */
  roundTripsPerOrch?: number;
  walBytesPerOrch: number;
  clientCpuSec: number;
  peakRssMb: number;
  baselineTps: number | null;
  /** orchPerSec × txPerOrch ÷ baselineTps: the share of the server's commit ceiling used. */
  ceilingRatio: number | null;
  faults?: Record<string, number>;
  /** Chaos runs: activity bodies entered, distinct activities, and the executions beyond the first. */
  activityExecutions?: { executions: number; activities: number; duplicates: number };
  /** Failover runs: acknowledged starts the store forgot, instances seen finished that ran again. */
  failover?: { mode: string; lostStarts: number; reopened: number };
  correctness: { ok: boolean; violations: string[] };
  /** Set when a signal cut the run short: figures cover the time until then, nothing was checked. */
  interrupted?: boolean;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

export function renderTable(results: readonly ScenarioResult[]): string {
  const table = new Table({
    head: [
      "scenario",
      "launched",
      "completed",
      "failed i/c/a",
      "orch/s",
      "act/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "tx/orch",
      "RT/orch",
      "WAL KB/orch",
      "ceiling %",
      "CPU s",
      "RSS MB",
      "correct",
    ],
  });
  for (const r of results) {
    table.push([
      r.scenario,
      r.launched,
      r.completed,
      `${r.failed.infrastructure}/${r.failed.configuration}/${r.failed.application}`,
      fmt(r.orchPerSec),
      fmt(r.activitiesPerSec),
      fmt(r.latencyMs.p50),
      fmt(r.latencyMs.p95),
      fmt(r.latencyMs.p99),
      fmt(r.txPerOrch),
      r.roundTripsPerOrch === undefined ? "-" : fmt(r.roundTripsPerOrch),
      fmt(r.walBytesPerOrch / 1024),
      r.ceilingRatio === null ? "-" : fmt(r.ceilingRatio * 100),
      fmt(r.clientCpuSec),
      fmt(r.peakRssMb, 0),
      r.interrupted
        ? "interrupted"
        : r.correctness.ok
          ? "ok"
          : `${r.correctness.violations.length} violation(s)`,
    ]);
  }
  return table.toString();
}

export function correctnessSummary(report: CorrectnessReport): string {
  if (report.ok) {
    return `correctness: ok (${report.instancesChecked} instances, ${report.executionsChecked} executions checked)`;
  }
  const shown = report.violations.slice(0, 20).map((v) => `  - ${v}`);
  const more = report.violations.length > 20 ? [`  … and ${report.violations.length - 20} more`] : [];
  return ["correctness: FAILED", ...shown, ...more].join("\n");
}

function currentCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
}

/** Append one line per scenario to `<dir>/<server>.md`, creating the file with a header. */
export async function appendResults(
  dir: string,
  serverLabel: string,
  results: readonly ScenarioResult[],
): Promise<string> {
  const file = join(dir, `${serverLabel.replace(/[^a-zA-Z0-9._-]+/g, "-")}.md`);
  await mkdir(dir, { recursive: true });
  const exists = await readFile(file, "utf8").then(
    () => true,
    () => false,
  );
  if (!exists) {
    await writeFile(
      file,
      `# Stress results on ${serverLabel}\n\n` +
        "Appended by `npm run stress -- --record`. Latency is per orchestration, start to completion.\n\n" +
        "| date | commit | scenario | config | completed | failed | orch/s | act/s | p50/p95/p99 ms | tx/orch | WAL B/orch | baseline TPS | ceiling % | RSS MB | correct |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
  }
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const commit = currentCommit();
  const lines = results.map((r) => {
    const c = r.config;
    const config = `${c.orchConcurrency}/${c.workerConcurrency}, ${c.maxConcurrent} in flight, ${c.tasks} tasks, ${c.activityDelayMs} ms, ${r.durationSec}s, ${c.runtimes} runtime(s)${c.addedLatencyMs === undefined ? "" : `, +${c.addedLatencyMs} ms each way (${fmt(r.roundTripsPerOrch ?? Number.NaN)} RT/orch)`}${r.faults ? `, chaos: ${r.faults.total} faults` : ""}`;
    const failed = r.failed.infrastructure + r.failed.configuration + r.failed.application;
    return `| ${date} | ${commit} | ${r.scenario} | ${config} | ${r.completed} | ${failed} | ${fmt(r.orchPerSec)} | ${fmt(r.activitiesPerSec)} | ${fmt(r.latencyMs.p50)}/${fmt(r.latencyMs.p95)}/${fmt(r.latencyMs.p99)} | ${fmt(r.txPerOrch)} | ${fmt(r.walBytesPerOrch, 0)} | ${r.baselineTps === null ? "-" : fmt(r.baselineTps, 0)} | ${r.ceilingRatio === null ? "-" : fmt(r.ceilingRatio * 100)} | ${fmt(r.peakRssMb, 0)} | ${r.correctness.ok ? "ok" : "FAILED"} |`;
  });
  await appendFile(file, `${lines.join("\n")}\n`);
  return file;
}

/** One JSON object per scenario run, one per line (a single run is a plain JSON document). */
export async function writeJson(file: string, results: readonly ScenarioResult[]): Promise<void> {
  await writeFile(file, results.map((r) => `${JSON.stringify(r)}\n`).join(""));
}
