/**
 * OrchestrationContext: the API orchestration code uses. Scheduling calls return durable tasks the
 * code must `yield` (or `yield*` for a typed result); status, KV and trace calls act at once.
 * The API follows duroxide-node's generator SDK.
 */
import { randomUUID } from "node:crypto";
import type { KvEntry } from "../provider/types.ts";
import { ContinueAsNewTask } from "./commands/continue-as-new.ts";
import type { RecordAction } from "./commands/registry.ts";
import { SYSCALL_GET_KV, SYSCALL_NEW_GUID, SYSCALL_UTC_NOW } from "./commands/system-call.ts";
import { fromJson, PayloadError, toJson } from "./json.ts";
import { type RetryPolicy, retryLoop, validateRetryPolicy, withTotalTimeout } from "./retry.ts";
import {
  ActivityTask,
  AllTask,
  CoroutineTask,
  type DurableTask,
  LeafTask,
  RaceTask,
  type TaskLike,
  toTask,
} from "./tasks.ts";

/** Reserved activity names of the system calls (duroxide's names, so histories stay compatible). */
export {
  SYSCALL_GET_KV,
  SYSCALL_NEW_GUID,
  SYSCALL_PREFIX,
  SYSCALL_UTC_NOW,
} from "./commands/system-call.ts";

export const MAX_TAG_NAME_BYTES = 256;
export const MAX_KV_KEYS = 150;
export const MAX_KV_VALUE_BYTES = 65_536;
export const MAX_CUSTOM_STATUS_BYTES = 256 * 1024;

export type LogLevel = "debug" | "info" | "warn" | "error";

/** What the context needs from the replay engine. */
export interface ContextHost {
  readonly isReplaying: boolean;
  readonly kv: Map<string, KvEntry>;
  customStatus: string | null;
  record(action: RecordAction): void;
  trace(level: LogLevel, message: string): void;
}

export interface ActivityOptions {
  /** Run on the worker that owns this session (affinity). */
  sessionId?: string;
  /** Route to workers whose tag filter accepts this tag. */
  tag?: string;
}

export interface OrchestrationInfo {
  instanceId: string;
  executionId: number;
  orchestrationName: string;
  orchestrationVersion: string;
}

const decodeJson = (raw: string) => fromJson(raw);

export class OrchestrationContext {
  readonly instanceId: string;
  readonly executionId: number;
  readonly orchestrationName: string;
  readonly orchestrationVersion: string;

  /** @internal */
  constructor(
    info: OrchestrationInfo,
    private readonly host: ContextHost,
  ) {
    this.instanceId = info.instanceId;
    this.executionId = info.executionId;
    this.orchestrationName = info.orchestrationName;
    this.orchestrationVersion = info.orchestrationVersion;
  }

  /** True while the code is re-running over recorded history (traces are suppressed then). */
  get isReplaying(): boolean {
    return this.host.isReplaying;
  }

  // --- activities -----------------------------------------------------------------------------

  /** Run an activity; the value is its (JSON-decoded) result, a failure is thrown as TaskFailedError. */
  scheduleActivity<T = unknown>(
    name: string,
    input?: unknown,
    options: ActivityOptions = {},
  ): ActivityTask<T> {
    checkName(name, "activity name");
    if (options.tag !== undefined) checkTag(options.tag);
    if (
      options.sessionId !== undefined &&
      (typeof options.sessionId !== "string" || options.sessionId === "")
    ) {
      throw new TypeError("sessionId must be a non-empty string");
    }
    const action = {
      kind: "activity" as const,
      name,
      input: toJson(input, `input of activity '${name}'`),
      ...(options.sessionId !== undefined ? { sessionId: options.sessionId } : {}),
      ...(options.tag !== undefined ? { tag: options.tag } : {}),
    };
    return new ActivityTask<T>(action, decodeJson);
  }

  scheduleActivityOnSession<T = unknown>(name: string, input: unknown, sessionId: string): ActivityTask<T> {
    return this.scheduleActivity<T>(name, input, { sessionId });
  }

  scheduleActivityWithTag<T = unknown>(name: string, input: unknown, tag: string): ActivityTask<T> {
    return this.scheduleActivity<T>(name, input, { tag });
  }

  /**
   * Run an activity with retries (durable timers between attempts). `timeoutMs` bounds each
   * attempt (a timeout is not retried); `totalTimeoutMs` bounds all attempts together.
   */
  scheduleActivityWithRetry<T = unknown>(
    name: string,
    input: unknown,
    retry: RetryPolicy,
    options: ActivityOptions = {},
  ): DurableTask<T> {
    validateRetryPolicy(retry);
    const first = this.scheduleActivity<T>(name, input, options); // validates everything once, at the call site
    const attempt = () => new ActivityTask<T>({ ...first.action }, decodeJson);
    const loop = new CoroutineTask(
      retryLoop(
        { activity: attempt, timer: (ms) => this.scheduleTimer(ms), warn: (m) => this.traceWarn(m) },
        retry,
        name,
      ),
    ) as DurableTask<T>;
    if (retry.totalTimeoutMs === undefined) return loop;
    return new CoroutineTask(
      withTotalTimeout(loop, this.scheduleTimer(retry.totalTimeoutMs), retry.totalTimeoutMs, name),
    ) as DurableTask<T>;
  }

  scheduleActivityWithRetryOnSession<T = unknown>(
    name: string,
    input: unknown,
    retry: RetryPolicy,
    sessionId: string,
  ): DurableTask<T> {
    return this.scheduleActivityWithRetry<T>(name, input, retry, { sessionId });
  }

  // --- timers and events ----------------------------------------------------------------------

  /** A durable timer; resolves with null after `delayMs`. */
  scheduleTimer(delayMs: number): LeafTask<null> {
    if (!Number.isFinite(delayMs) || delayMs < 0)
      throw new RangeError(`timer delay must be ≥ 0 ms, got ${delayMs}`);
    return new LeafTask<null>({ kind: "timer", delayMs: Math.ceil(delayMs) }, () => null);
  }

  /**
   * Wait for an event raised with client.raiseEvent(). Only events raised after this wait is
   * recorded are delivered; the n-th wait for a name gets the n-th such event.
   */
  waitForEvent<T = unknown>(name: string): LeafTask<T> {
    checkName(name, "event name");
    return new LeafTask<T>({ kind: "wait", name }, decodeJson);
  }

  /**
   * Take the next message of a persistent queue (client.enqueueEvent()). Messages are kept FIFO
   * per queue whether they arrive before or after the dequeue, and survive continue-as-new.
   */
  dequeueEvent<T = unknown>(queueName: string): LeafTask<T> {
    checkName(queueName, "queue name");
    return new LeafTask<T>({ kind: "dequeue", name: queueName }, decodeJson);
  }

  // --- orchestrations -------------------------------------------------------------------------

  /** Run a child orchestration (id `<this instance>::sub::<event id>`); its output, or its failure thrown. */
  scheduleSubOrchestration<T = unknown>(name: string, input?: unknown): LeafTask<T> {
    return this.subOrchestration<T>(name, null, null, input);
  }

  scheduleSubOrchestrationWithId<T = unknown>(
    name: string,
    instanceId: string,
    input?: unknown,
  ): LeafTask<T> {
    checkName(instanceId, "instance id");
    return this.subOrchestration<T>(name, null, instanceId, input);
  }

  scheduleSubOrchestrationVersioned<T = unknown>(
    name: string,
    version: string | null,
    input?: unknown,
  ): LeafTask<T> {
    return this.subOrchestration<T>(name, version || null, null, input);
  }

  scheduleSubOrchestrationVersionedWithId<T = unknown>(
    name: string,
    version: string | null,
    instanceId: string,
    input?: unknown,
  ): LeafTask<T> {
    checkName(instanceId, "instance id");
    return this.subOrchestration<T>(name, version || null, instanceId, input);
  }

  /** Start an independent orchestration (fire and forget); resolves with null in the same turn. */
  startOrchestration(name: string, instanceId: string, input?: unknown): LeafTask<null> {
    return this.startOrchestrationVersioned(name, null, instanceId, input);
  }

  startOrchestrationVersioned(
    name: string,
    version: string | null,
    instanceId: string,
    input?: unknown,
  ): LeafTask<null> {
    checkName(name, "orchestration name");
    checkName(instanceId, "instance id");
    const encoded = toJson(input, `input of orchestration '${name}'`);
    return new LeafTask<null>(
      { kind: "detached", name, instance: instanceId, input: encoded, version: version || null },
      () => null,
      { ok: true, value: null }, // resolves at once: the code continues in the same turn
    );
  }

  /** End this execution and start a fresh one (empty history) with `input`, on the latest version. */
  continueAsNew(input?: unknown): DurableTask<never> {
    return new ContinueAsNewTask(toJson(input, "continue-as-new input"), null);
  }

  /** Continue as new on exactly `version` (the upgrade path for long-running instances). */
  continueAsNewVersioned(input: unknown, version: string): DurableTask<never> {
    return new ContinueAsNewTask(toJson(input, "continue-as-new input"), version || null);
  }

  // --- deterministic values -------------------------------------------------------------------

  /** The current time (epoch ms), recorded on first execution and replayed afterwards. */
  utcNow(): LeafTask<number> {
    const inline = () => String(Date.now());
    return new LeafTask<number>({ kind: "systemCall", name: SYSCALL_UTC_NOW, input: '""', inline }, (raw) =>
      Number(raw),
    );
  }

  /** A random UUID, recorded on first execution and replayed afterwards. */
  newGuid(): LeafTask<string> {
    const decode = (raw: string) => {
      const value = fromJson(raw); // duroxide records the bare UUID, a JSON-encoding worker a quoted one
      return typeof value === "string" ? value : raw;
    };
    const inline = () => randomUUID();
    return new LeafTask<string>({ kind: "systemCall", name: SYSCALL_NEW_GUID, input: '""', inline }, decode);
  }

  /** Read a KV value of another instance (a recorded read, through a worker). */
  getValueFromInstance(instanceId: string, key: string): LeafTask<string | null> {
    const input = JSON.stringify({ instance_id: instanceId, key });
    return new LeafTask<string | null>(
      { kind: "systemCall", name: SYSCALL_GET_KV, input, inline: null },
      (raw) => {
        const value = fromJson(raw);
        return typeof value === "string" ? value : null;
      },
    );
  }

  // --- composition ----------------------------------------------------------------------------

  /** Wait for every task; never throws: `[{ ok: value } | { err: message }]` in argument order. */
  all<T extends unknown[] = unknown[]>(tasks: TaskLike[]): AllTask<T> {
    return new AllTask<T>(tasks.map(asTask));
  }

  /**
   * The first task to finish: `{ index, value }`. The losers are cancelled. If the winner failed,
   * its error is thrown (a TaskFailedError carries `index`). Accepts tasks or one array of tasks.
   */
  race<T = unknown>(...tasks: TaskLike[] | [TaskLike[]]): RaceTask<T> {
    const list = (tasks.length === 1 && Array.isArray(tasks[0]) ? tasks[0] : tasks) as TaskLike[];
    return new RaceTask<T>(list.map(asTask));
  }

  // --- custom status --------------------------------------------------------------------------

  setCustomStatus(status: string): void {
    if (typeof status !== "string")
      throw new TypeError("custom status must be a string (JSON.stringify objects)");
    if (Buffer.byteLength(status) > MAX_CUSTOM_STATUS_BYTES) {
      throw new RangeError(`custom status exceeds limit of ${MAX_CUSTOM_STATUS_BYTES} bytes`);
    }
    this.host.customStatus = status;
    this.host.record({ kind: "customStatus", status });
  }

  resetCustomStatus(): void {
    this.host.customStatus = null;
    this.host.record({ kind: "customStatus", status: null });
  }

  getCustomStatus(): string | null {
    return this.host.customStatus;
  }

  // --- key/value store ------------------------------------------------------------------------

  /** Set a key of this instance's KV store (values are strings; others are coerced with String()). */
  setValue(key: string, value: string): void {
    checkName(key, "KV key");
    const text = String(value);
    if (Buffer.byteLength(text) > MAX_KV_VALUE_BYTES) {
      throw new RangeError(`KV value for '${key}' exceeds limit of ${MAX_KV_VALUE_BYTES} bytes`);
    }
    if (!this.host.kv.has(key) && this.host.kv.size >= MAX_KV_KEYS) {
      throw new RangeError(`KV store exceeds limit of ${MAX_KV_KEYS} keys`);
    }
    const entry = { value: text, lastUpdatedAtMs: Date.now() };
    this.host.kv.set(key, entry);
    this.host.record({ kind: "kvSet", key, value: text, entry });
  }

  getValue(key: string): string | null {
    return this.host.kv.get(key)?.value ?? null;
  }

  clearValue(key: string): void {
    this.host.kv.delete(key);
    this.host.record({ kind: "kvClear", key });
  }

  clearAllValues(): void {
    this.host.kv.clear();
    this.host.record({ kind: "kvClearAll" });
  }

  getKvAllValues(): Record<string, string> {
    return Object.fromEntries([...this.host.kv].map(([k, e]) => [k, e.value]));
  }

  getKvAllKeys(): string[] {
    return [...this.host.kv.keys()];
  }

  getKvLength(): number {
    return this.host.kv.size;
  }

  /** Clear every key last written before `cutoffMs`; returns how many were cleared. */
  pruneKvValuesUpdatedBefore(cutoffMs: number): number {
    const stale = [...this.host.kv].filter(([, e]) => e.lastUpdatedAtMs < cutoffMs).map(([k]) => k);
    for (const key of stale) this.clearValue(key);
    return stale.length;
  }

  // --- tracing (silent while replaying) -------------------------------------------------------

  traceInfo(message: string): void {
    this.host.trace("info", message);
  }
  traceWarn(message: string): void {
    this.host.trace("warn", message);
  }
  traceError(message: string): void {
    this.host.trace("error", message);
  }
  traceDebug(message: string): void {
    this.host.trace("debug", message);
  }

  // --- duroxide-node's *Typed aliases (every method here is already generic) -------------------

  scheduleActivityTyped = this.scheduleActivity;
  scheduleActivityOnSessionTyped = this.scheduleActivityOnSession;
  scheduleActivityWithRetryTyped = this.scheduleActivityWithRetry;
  scheduleActivityWithRetryOnSessionTyped = this.scheduleActivityWithRetryOnSession;
  waitForEventTyped = this.waitForEvent;
  dequeueEventTyped = this.dequeueEvent;
  scheduleSubOrchestrationTyped = this.scheduleSubOrchestration;
  scheduleSubOrchestrationWithIdTyped = this.scheduleSubOrchestrationWithId;
  startOrchestrationTyped = this.startOrchestration;
  startOrchestrationVersionedTyped = this.startOrchestrationVersioned;
  continueAsNewTyped = this.continueAsNew;
  allTyped = this.all;
  raceTyped = this.race;

  // --- internals ------------------------------------------------------------------------------

  private subOrchestration<T>(name: string, version: string | null, instance: string | null, input: unknown) {
    checkName(name, "orchestration name");
    const encoded = toJson(input, `input of sub-orchestration '${name}'`);
    return new LeafTask<T>({ kind: "subOrchestration", name, instance, input: encoded, version }, decodeJson);
  }
}

function asTask(value: TaskLike): DurableTask {
  const task = toTask(value);
  if (!task) throw new TypeError("all()/race() accept durable tasks or generator objects only");
  return task;
}

function checkName(value: unknown, what: string): void {
  if (typeof value !== "string" || value === "") throw new PayloadError(`${what} must be a non-empty string`);
}

function checkTag(tag: string): void {
  checkName(tag, "activity tag");
  if (Buffer.byteLength(tag) > MAX_TAG_NAME_BYTES) {
    throw new RangeError(`activity tag exceeds limit of ${MAX_TAG_NAME_BYTES} bytes`);
  }
}
