/**
 * The pump: keeps `maxConcurrent` orchestrations in flight until the duration is over, then
 * waits (bounded) for the stragglers. Records each instance's start → completion latency.
 */
import type { Client } from "../runtime/index.ts";
import type { CompletionWatcher, Finished } from "./completion-watcher.ts";

export interface WorkloadOptions {
  scenario: string;
  orchestration: string;
  input: () => unknown;
  maxConcurrent: number;
  durationMs: number;
  drainTimeoutMs: number;
  /** Called about once a second with live figures. */
  onProgress?: (p: Progress) => void;
  /** Called every tick; chaos mode uses it to inject faults. */
  onTick?: (elapsedMs: number) => Promise<void> | void;
}

export interface Progress {
  elapsedMs: number;
  launched: number;
  completed: number;
  failed: number;
  inFlight: number;
  startErrors: number;
}

export interface WorkloadResult {
  launched: string[];
  finished: Finished[];
  latenciesMs: number[];
  stuck: string[];
  startErrors: number;
  wallMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runWorkload(
  client: Client,
  watcher: CompletionWatcher,
  o: WorkloadOptions,
): Promise<WorkloadResult> {
  const runId = Date.now().toString(36);
  const inFlight = new Map<string, number>(); // instance → start time
  const launched: string[] = [];
  const finished: Finished[] = [];
  const latenciesMs: number[] = [];
  let startErrors = 0;
  let next = 0;
  const started = Date.now();
  let lastProgress = 0;

  // Starts run concurrently (the client's pool bounds them), so launching never throttles a run
  // whose runtimes are faster than one start at a time. A start whose connection broke may or may
  // not have committed; starting the same id again is safe (a duplicate start is ignored), so it is
  // retried with the same id and input until the drain deadline, and its latency counts from the
  // first attempt.
  const retryDeadline = started + o.durationMs + o.drainTimeoutMs;
  const launching = new Set<Promise<void>>();
  const launchOne = async (id: string, input: unknown, t0: number): Promise<void> => {
    for (;;) {
      try {
        await client.startOrchestration(id, o.orchestration, input);
        inFlight.set(id, t0);
        launched.push(id);
        return;
      } catch {
        startErrors++;
        if (Date.now() > retryDeadline) return; // if it did commit, the check reports it untracked
        await sleep(50);
      }
    }
  };
  const fill = () => {
    while (inFlight.size + launching.size < o.maxConcurrent) {
      const launch: Promise<void> = launchOne(
        `${o.scenario}-${runId}-${next++}`,
        o.input(),
        Date.now(),
      ).finally(() => launching.delete(launch));
      launching.add(launch);
    }
  };

  const collect = async () => {
    let done: Finished[] = [];
    try {
      done = await watcher.poll([...inFlight.keys()]);
    } catch {
      await sleep(50); // the server may be restarting (chaos); try again next tick
    }
    for (const f of done) {
      const t0 = inFlight.get(f.instanceId);
      if (t0 === undefined) continue;
      inFlight.delete(f.instanceId);
      finished.push(f);
      latenciesMs.push(Math.max(0, f.completedAtMs - t0));
    }
  };

  const report = (force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < 1000) return;
    lastProgress = now;
    o.onProgress?.({
      elapsedMs: now - started,
      launched: launched.length,
      completed: finished.filter((f) => f.status === "Completed").length,
      failed: finished.filter((f) => f.status === "Failed").length,
      inFlight: inFlight.size,
      startErrors,
    });
  };

  while (Date.now() - started < o.durationMs) {
    fill();
    await sleep(5);
    await collect();
    await o.onTick?.(Date.now() - started);
    report();
  }
  const drainDeadline = Date.now() + o.drainTimeoutMs;
  // Starts still retrying when the time ran out may have committed: settle them before draining.
  await Promise.all(launching);
  while (inFlight.size > 0 && Date.now() < drainDeadline) {
    await sleep(10);
    await collect();
    await o.onTick?.(Date.now() - started);
    report();
  }
  report(true);
  return {
    launched,
    finished,
    latenciesMs,
    stuck: [...inFlight.keys()],
    startErrors,
    wallMs: Date.now() - started,
  };
}
