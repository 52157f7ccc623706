/**
 * duroxide-node's Runtime over the main API's Runtime. Registration wraps each function so it
 * receives this entry point's contexts (activity-context.ts, typed-context.ts); everything else
 * is the main runtime, with duroxide-node's option names (options.ts) and shutdown default.
 */
import type { Provider } from "../provider/types.ts";
import type { OrchestrationContext } from "../runtime/orchestration-context.ts";
import { Runtime as StoreRuntime } from "../runtime/runtime.ts";
import { ActivityContext } from "./activity-context.ts";
import { type JsMetricsSnapshot, metricsObject } from "./metrics.ts";
import { type RuntimeOptions, storeOptions } from "./options.ts";
import { typedContext } from "./typed-context.ts";

// biome-ignore lint/suspicious/noExplicitAny: what a plain `yield` gives back depends on the task yielded
type Dynamic = any;

/** An orchestration: a generator function that yields every durable operation. */
export type OrchestrationFunction<I = Dynamic> = (
  ctx: OrchestrationContext,
  input: I,
) => Generator<unknown, unknown, Dynamic>;

export type ActivityFunction<I = Dynamic, O = unknown> = (ctx: ActivityContext, input: I) => O | Promise<O>;

/** duroxide-node's default shutdown grace period. */
const DEFAULT_SHUTDOWN_MS = 1000;

export class Runtime {
  private readonly store: StoreRuntime;

  constructor(
    private readonly provider: Provider,
    options: RuntimeOptions = {},
  ) {
    this.store = new StoreRuntime(provider, storeOptions(options));
  }

  registerActivity<I = Dynamic, O = unknown>(name: string, fn: ActivityFunction<I, O>): void {
    const provider = this.provider;
    this.store.registerActivity<I, O>(name, (ctx, input) => fn(new ActivityContext(ctx, provider), input));
  }

  registerOrchestration<I = Dynamic>(name: string, fn: OrchestrationFunction<I>): void {
    this.store.registerOrchestration<I>(name, (ctx, input) => fn(typedContext(ctx), input));
  }

  registerOrchestrationVersioned<I = Dynamic>(
    name: string,
    version: string,
    fn: OrchestrationFunction<I>,
  ): void {
    this.store.registerOrchestrationVersioned<I>(name, version, (ctx, input) => fn(typedContext(ctx), input));
  }

  // duroxide-node's typed registrations: inputs and results are JSON-coded the same way.
  registerActivityTyped<I = Dynamic, O = unknown>(name: string, fn: ActivityFunction<I, O>): void {
    this.registerActivity(name, fn);
  }
  registerOrchestrationTyped<I = Dynamic>(name: string, fn: OrchestrationFunction<I>): void {
    this.registerOrchestration(name, fn);
  }
  registerOrchestrationVersionedTyped<I = Dynamic>(
    name: string,
    version: string,
    fn: OrchestrationFunction<I>,
  ): void {
    this.registerOrchestrationVersioned(name, version, fn);
  }

  /** Resolves once the dispatchers run. */
  start(): Promise<void> {
    return this.store.start();
  }

  /**
   * Stop fetching and let in-flight work finish for up to `timeoutMs` (default 1 000, as in
   * duroxide-node); returns as soon as it has. Activities still running then are handed back.
   */
  async shutdown(timeoutMs = DEFAULT_SHUTDOWN_MS): Promise<void> {
    await this.store.shutdown(timeoutMs);
  }

  /** The runtime's counters (always available here; duroxide-node returns null without observability). */
  metricsSnapshot(): JsMetricsSnapshot {
    return metricsObject(this.store.metricsSnapshot());
  }
}
