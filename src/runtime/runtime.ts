/**
 * Runtime: registers orchestrations and activities and runs the dispatchers against any Provider.
 *
 *   const runtime = new Runtime(provider, { orchestrationConcurrency: 2, workerConcurrency: 2 });
 *   runtime.registerActivity("Greet", async (ctx, name: string) => `Hello, ${name}!`);
 *   runtime.registerOrchestration("Hello", function* (ctx, name: string) {
 *     return yield ctx.scheduleActivity("Greet", name);
 *   });
 *   await runtime.start();
 *   …
 *   await runtime.shutdown();
 */
import { randomBytes } from "node:crypto";
import type { Provider } from "../provider/types.ts";
import type { ActivityContext } from "./activity-context.ts";
import { Client } from "./client.ts";
import { ClockGuard, type ClockStatus } from "./clock-guard.ts";
import { emptyMetrics, type RuntimeMetrics } from "./metrics.ts";
import { type ResolvedOptions, type RuntimeOptions, resolveOptions } from "./options.ts";
import type { OrchestrationContext } from "./orchestration-context.ts";
import { SYSCALL_GET_KV, SYSCALL_NEW_GUID, SYSCALL_UTC_NOW } from "./orchestration-context.ts";
import { OrchestrationDispatcher } from "./orchestration-dispatcher.ts";
import {
  type ActivityFunction,
  ActivityRegistry,
  DEFAULT_ORCHESTRATION_VERSION,
  OrchestrationRegistry,
  type VersionPolicy,
} from "./registry.ts";
import { SessionMaintenance, SessionTracker } from "./sessions.ts";
import { WorkerDispatcher } from "./worker-dispatcher.ts";

/**
 * An orchestration as users write it. The `yield` result is `any` on purpose: what a yield gives
 * back depends on the task yielded. For a typed result use `const x = yield* task`.
 */
// biome-ignore lint/suspicious/noExplicitAny: what a plain `yield` gives back depends on the task yielded
type Dynamic = any;

export type Orchestration<I = Dynamic, O = unknown> = (
  ctx: OrchestrationContext,
  input: I,
) => Generator<unknown, O, Dynamic>;

type State = "new" | "running" | "stopping" | "stopped";

/**
 * How shutdown ended (duroxide 0.1.32's bounded lifecycle): "drained" — everything in flight
 * finished within the timeout; "forced" — the timeout passed, what still ran was cancelled
 * (activities handed back uncounted) and every dispatcher loop has exited; "timedOut" — forced, but
 * some loop was still inside a store call when the cleanup headroom ran out (it exits on its own).
 */
export type ShutdownOutcome = "drained" | "forced" | "timedOut";

/** After forcing, how long shutdown waits for the dispatcher loops to exit. */
const SHUTDOWN_CLEANUP_MS = 1000;

export class Runtime {
  private readonly options: ResolvedOptions;
  private readonly orchestrations = new OrchestrationRegistry();
  private readonly activities = new ActivityRegistry();
  private readonly metrics = emptyMetrics();
  private readonly nodeId: string;
  private state: State = "new";
  /** start() is running its store check. */
  private starting = false;
  private stopController = new AbortController();
  private forceController = new AbortController();
  private orchestrationDispatcher: OrchestrationDispatcher | null = null;
  private workerDispatcher: WorkerDispatcher | null = null;
  private sessionMaintenance: SessionMaintenance | null = null;
  private readonly clockGuard: ClockGuard;
  /** The one shutdown in progress: later calls share it (its deadlines cannot be extended). */
  private stopping: Promise<ShutdownOutcome> | null = null;

  constructor(
    private readonly provider: Provider,
    options: RuntimeOptions = {},
  ) {
    this.options = resolveOptions(options, provider.now ? () => provider.now!() : undefined);
    this.clockGuard = new ClockGuard({
      provider,
      clock: this.options.clock,
      boundMs: this.options.maxClockSkewMs,
      intervalMs: this.options.clockCheckIntervalMs,
      logger: this.options.logger,
      onStatus: (status) => {
        this.metrics.clockSkewMs = status.skewMs;
        this.metrics.clockSkewUncertaintyMs = status.uncertaintyMs;
        this.metrics.clockSkewRefusing = !status.agrees && status.skewMs !== null;
      },
    });
    this.nodeId = this.options.workerNodeId ?? randomBytes(4).toString("hex");
    this.registerSystemActivities();
  }

  // --- registration ---------------------------------------------------------------------------

  /** Register an orchestration as version 1.0.0. */
  registerOrchestration<I = Dynamic, O = unknown>(name: string, fn: Orchestration<I, O>): this {
    return this.registerOrchestrationVersioned(name, DEFAULT_ORCHESTRATION_VERSION, fn);
  }

  /**
   * Register one version of an orchestration. New instances run the latest version (or what the
   * start asks for); running executions stay on the version they started with until they
   * continue as new.
   */
  registerOrchestrationVersioned<I = Dynamic, O = unknown>(
    name: string,
    version: string,
    fn: Orchestration<I, O>,
  ): this {
    this.assertNotStarted("registerOrchestration");
    this.orchestrations.register(name, version, fn as Orchestration);
    return this;
  }

  /** Make new instances of `name` start on one version instead of the latest. */
  setVersionPolicy(name: string, policy: VersionPolicy): this {
    this.orchestrations.setVersionPolicy(name, policy);
    return this;
  }

  /** Register an activity: input is the JSON-decoded input; the return value is JSON-encoded. */
  registerActivity<I = Dynamic, O = unknown>(
    name: string,
    fn: (ctx: ActivityContext, input: I) => O | Promise<O>,
  ): this {
    this.assertNotStarted("registerActivity");
    this.activities.register(name, fn as ActivityFunction);
    return this;
  }

  // duroxide-node's typed aliases (the plain methods are already generic here).
  registerOrchestrationTyped = this.registerOrchestration;
  registerOrchestrationVersionedTyped = this.registerOrchestrationVersioned;
  registerActivityTyped = this.registerActivity;

  // --- lifecycle ------------------------------------------------------------------------------

  /** Start the dispatchers; resolves once they run. Throws the provider's check failure (StoreNotReadyError). */
  async start(): Promise<void> {
    if (this.state !== "new" || this.starting) throw new Error(`runtime cannot start: it is ${this.state}`);
    // Fail fast on a store that cannot work (wrong password, unreachable or silent server, schema
    // missing or behind): PostgresProvider offers the check; other providers may not.
    this.starting = true;
    try {
      await (this.provider as { checkReady?: () => Promise<void> }).checkReady?.();
    } finally {
      this.starting = false;
    }
    if (this.state !== "new") throw new Error(`runtime cannot start: it is ${this.state}`);
    this.state = "running";
    this.orchestrationDispatcher = new OrchestrationDispatcher({
      provider: this.provider,
      registry: this.orchestrations,
      options: this.options,
      metrics: this.metrics,
      clockGuard: this.clockGuard,
      stopSignal: this.stopController.signal,
    });
    this.workerDispatcher = new WorkerDispatcher({
      provider: this.provider,
      registry: this.activities,
      options: this.options,
      metrics: this.metrics,
      sessions: new SessionTracker(),
      nodeId: this.nodeId,
      clockGuard: this.clockGuard,
      stopSignal: this.stopController.signal,
      forceSignal: this.forceController.signal,
    });
    if (this.options.workerConcurrency > 0) {
      this.sessionMaintenance = new SessionMaintenance(
        this.provider,
        this.options,
        this.workerDispatcher.ownerIds(),
      );
      this.sessionMaintenance.start();
    }
    this.clockGuard.start();
    this.orchestrationDispatcher.start();
    this.workerDispatcher.start();
    this.options.telemetry.observeQueueDepths(this.provider, this.options.queueDepthIntervalMs);
  }

  /**
   * Stop fetching, let in-flight turns and activities finish, and resolve as soon as they have
   * (at most `timeoutMs`, default 5 000). Activities still running then are handed back to the
   * store without counting an attempt, so another node picks them up at once. Bounded: resolves
   * within `timeoutMs` + 1 s whatever is in flight. Later calls return the first call's outcome.
   */
  shutdown(timeoutMs = 5000): Promise<ShutdownOutcome> {
    if (this.state === "new") this.state = "stopped";
    if (this.state === "stopped" && !this.stopping) return Promise.resolve("drained");
    this.stopping ??= this.stop(timeoutMs);
    return this.stopping;
  }

  private async stop(timeoutMs: number): Promise<ShutdownOutcome> {
    this.state = "stopping";
    // Idle slots wait on the provider's wake-ups with this signal: they exit at once.
    this.stopController.abort();
    this.sessionMaintenance?.stop();
    this.clockGuard.stop();
    this.options.telemetry.stop();
    const drained = Promise.all([this.orchestrationDispatcher?.drained(), this.workerDispatcher?.drained()]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), Math.max(0, timeoutMs));
      }),
    ]);
    clearTimeout(timer);
    let outcome: ShutdownOutcome = "drained";
    if (timedOut) {
      this.forceController.abort();
      // Let handed-back activities reach the store and the loops exit; a loop still inside a
      // store call past the headroom is not waited for (whatever it fetches is handed back).
      let cleanup: NodeJS.Timeout | undefined;
      const exited = await Promise.race([
        drained.then(() => true),
        new Promise<boolean>((resolve) => {
          cleanup = setTimeout(() => resolve(false), SHUTDOWN_CLEANUP_MS);
        }),
      ]);
      clearTimeout(cleanup);
      outcome = exited ? "forced" : "timedOut";
    }
    this.state = "stopped";
    return outcome;
  }

  /** A client over the same provider (its waits are woken by the provider's wake-ups, when it has them). */
  client(): Client {
    return new Client(this.provider);
  }

  metricsSnapshot(): RuntimeMetrics {
    return { ...this.metrics };
  }

  /**
   * How this runtime's clock compares with the database's (docs/clocks.md): the last measured
   * skew, the bound, and whether it takes leases now.
   */
  clockStatus(): ClockStatus {
    return this.clockGuard.status();
  }

  // --- internals ------------------------------------------------------------------------------

  private assertNotStarted(what: string): void {
    if (this.state !== "new") throw new Error(`${what}() must be called before start()`);
  }

  private registerSystemActivities(): void {
    const system = { system: true };
    // utcNow/newGuid are normally decided inside the turn; these serve histories whose system calls
    // were scheduled as ordinary activities (by duroxide) and are still in flight.
    // The runtime's clock, like every other time it reads (a fake clock in tests moves it too).
    this.activities.register(SYSCALL_UTC_NOW, () => this.options.clock(), system);
    this.activities.register(SYSCALL_NEW_GUID, () => crypto.randomUUID(), system);
    this.activities.register(
      SYSCALL_GET_KV,
      async (_ctx, input) => {
        const { instance_id, key } = input as { instance_id: string; key: string };
        return await this.provider.getKvValue(instance_id, key);
      },
      system,
    );
  }
}
