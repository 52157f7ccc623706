/**
 * The pump: keeps `maxConcurrent` orchestrations in flight until the duration is over, then
 * waits (bounded) for the stragglers. Records each instance's start → completion latency.
 */
import type { Client } from "../runtime/index.ts";
import type { CompletionWatcher, Finished } from "./completion-watcher.ts";
import type { StoreAudit } from "./failover/lost-work.ts";

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
  /** True once the run is interrupted (a signal): stop launching, retrying and draining at once. */
  shouldStop?: () => boolean;
  /**
   * Failover runs: about once a second, and before the drain ends, ask the store about every
   * launched instance. An acknowledged start the store forgot (an asynchronous standby was
   * promoted before it received it) is submitted again; an instance seen finished that is running
   * again is waited for again. See failover/lost-work.ts.
   */
  audit?: (ids: readonly string[]) => Promise<StoreAudit>;
  /** The audit that ends the drain failed (reported once per distinct message). */
  onAuditError?: (message: string) => void;
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
  /** Acknowledged starts the store later had no trace of (submitted again). Failover runs only. */
  lostStarts: number;
  /** Instances seen finished that the store later showed running again. Failover runs only. */
  reopened: number;
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
  const firstAttempt = new Map<string, { t0: number; input: unknown }>();
  let startErrors = 0;
  let lostStarts = 0;
  let reopened = 0;
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
        if (!firstAttempt.has(id)) launched.push(id);
        firstAttempt.set(id, { t0, input });
        return;
      } catch {
        startErrors++;
        if (Date.now() > retryDeadline || o.shouldStop?.()) return; // if it did commit, the check reports it untracked
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

  // Failover runs: the store may have gone back in time (see WorkloadOptions.audit).
  let lastAudit = 0;
  const resubmitting = new Set<string>();
  const auditErrors = new Set<string>();
  const audit = async (force = false): Promise<boolean> => {
    if (!o.audit || (!force && Date.now() - lastAudit < 1000)) return false;
    lastAudit = Date.now();
    let found: StoreAudit;
    try {
      found = await o.audit(launched);
    } catch (error) {
      // The server may be failing over (the next audit will tell). A forced audit must run again;
      // a query that keeps failing would only show as a drain that never ends: say why, once.
      if (!force) return false;
      const message = (error as Error).message;
      if (!auditErrors.has(message)) {
        auditErrors.add(message);
        o.onAuditError?.(message);
      }
      await sleep(200);
      return true;
    }
    // Seen finished, but not in the store's present: wait for it again.
    const reopen = (id: string) => {
      const at = finished.findIndex((f) => f.instanceId === id);
      if (at >= 0) {
        finished.splice(at, 1);
        latenciesMs.splice(at, 1);
      }
      inFlight.set(id, firstAttempt.get(id)!.t0);
    };
    const changed = found.missing.length > 0 || found.unfinished.some((id) => !inFlight.has(id));
    for (const id of found.unfinished) {
      if (inFlight.has(id)) continue;
      reopened++;
      reopen(id);
    }
    for (const id of found.missing) {
      if (resubmitting.has(id)) continue;
      lostStarts++;
      if (!inFlight.has(id)) reopen(id);
      const { t0, input } = firstAttempt.get(id)!;
      resubmitting.add(id);
      const launch: Promise<void> = launchOne(id, input, t0).finally(() => {
        resubmitting.delete(id);
        launching.delete(launch);
      });
      launching.add(launch);
    }
    return changed;
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

  const stopped = () => o.shouldStop?.() === true;
  while (Date.now() - started < o.durationMs && !stopped()) {
    fill();
    await sleep(5);
    await collect();
    await audit();
    await o.onTick?.(Date.now() - started);
    report();
  }
  // Launching is over; the hook may wait for the fault in progress (a failover run does).
  await o.onTick?.(Date.now() - started);
  const drainDeadline = Date.now() + o.drainTimeoutMs;
  // Starts still retrying when the time ran out may have committed: settle them before draining.
  await Promise.all(launching);
  for (;;) {
    while (inFlight.size > 0 && Date.now() < drainDeadline && !stopped()) {
      await sleep(10);
      await collect();
      await audit();
      await o.onTick?.(Date.now() - started);
      report();
    }
    // Everything looks finished: a failover run makes sure the store agrees before it is checked.
    if (!o.audit || stopped() || Date.now() >= drainDeadline || !(await audit(true))) break;
  }
  report(true);
  return {
    launched,
    finished,
    latenciesMs,
    stuck: [...inFlight.keys()],
    startErrors,
    wallMs: Date.now() - started,
    lostStarts,
    reopened,
  };
}
