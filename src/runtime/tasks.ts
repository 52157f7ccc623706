/**
 * Durable tasks: what orchestration code yields.
 *
 * A task is a node of a tree: leaves are single durable operations (an activity, a timer, an event
 * wait, …); `all`, `race` and coroutines (generators, e.g. a retry loop or a user helper run inside
 * `all`) combine them. The replay engine drives the tree: it *starts* a task the first time it is
 * yielded (a leaf then emits its action), delivers results to leaves as history is applied, and
 * *polls* the root, which advances every coroutine whose awaited task has become ready. Everything
 * here is synchronous and deterministic: the same sequence of delivered results always makes the
 * code emit the same actions.
 *
 * Every task is also iterable, so `const x = yield* task` gives a typed result in TypeScript while
 * `const x = yield task` (the duroxide-node style) works untyped.
 */
import type { ScheduleAction } from "./commands/registry.ts";
import { TaskFailedError } from "./errors.ts";

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** What a task needs from the engine that drives it. */
export interface TaskHost {
  /** Queue the leaf's action behind every action emitted before it. */
  emit(leaf: LeafTask<unknown>): void;
  /** A leaf lost a race (or its parent did): it will never be observed. */
  dropped(leaf: LeafTask<unknown>): void;
  /** The code asked to continue as new; the turn ends with that, whatever else is pending. */
  continueAsNew(input: string, version: string | null): void;
}

export abstract class DurableTask<T = unknown> {
  protected started = false;

  /** @internal Emit this task's actions; idempotent, so a task may be yielded twice. */
  start(host: TaskHost): void {
    if (this.started) return;
    this.started = true;
    this.onStart(host);
  }

  /** @internal Advance nested coroutines; the outcome once the task is ready. */
  abstract poll(host: TaskHost): Outcome | undefined;

  /** @internal The task will never be observed (a race loser, or inside one). */
  abstract drop(host: TaskHost): void;

  /** @internal The code received this task's outcome (continue-as-new carries unread messages). */
  markRead(): void {}

  /**
   * A handle to this task for `race()`: when the race is lost, the handle is dropped but this task
   * is not — it stays bound and can be awaited later. Racing a dequeue's handle against a timer in
   * a loop keeps one subscription (and the message it will receive) instead of cancelling it.
   */
  keepAlive(): DurableTask<T> {
    return new KeptTask<T>(this);
  }

  protected abstract onStart(host: TaskHost): void;

  /** `const value = yield* task` — the typed way to await a task. */
  *[Symbol.iterator](): Generator<DurableTask<T>, T, unknown> {
    return (yield this) as T;
  }
}

/** Decodes a leaf's recorded result string into the value the code receives. */
export type Decoder = (raw: string) => unknown;

/**
 * Where a leaf is. `eventId` is its schedule event once bound to history (a detached start is
 * complete before it is bound). `read`: the outcome reached the code (a dequeue that was read has
 * consumed its message). A cancelled subscription takes no more arrivals; it keeps the result it
 * may already hold (a legacy dequeue that took a message before its breadcrumb).
 */
export type LeafState =
  | { status: "pending"; eventId: number | null }
  | { status: "completed"; eventId: number | null; value: unknown; read: boolean }
  | { status: "failed"; eventId: number | null; error: unknown; read: boolean }
  | { status: "cancelled"; eventId: number | null; result: Outcome | undefined; read: boolean };

/**
 * Whether the code dropped the leaf (it lost a race, or its parent did), and whether it had a
 * result then: one dropped while pending owes a cancellation breadcrumb.
 */
export type DropState = "live" | "droppedPending" | "droppedSettled";

/** One durable operation: one action, one (optional) result. */
export class LeafTask<T = unknown> extends DurableTask<T> {
  private current: LeafState = { status: "pending", eventId: null };
  private dropState: DropState = "live";

  constructor(
    readonly action: ScheduleAction,
    readonly decode: Decoder,
    /** An outcome known at creation (a detached start resolves at once, in the same turn). */
    settled?: Outcome,
  ) {
    super();
    if (settled) this.settle(settled);
  }

  get state(): LeafState {
    return this.current;
  }

  get dropped(): DropState {
    return this.dropState;
  }

  /** Event id of the schedule event once bound to history. */
  get eventId(): number | null {
    return this.current.eventId;
  }

  get outcome(): Outcome | undefined {
    const state = this.current;
    switch (state.status) {
      case "pending":
        return undefined;
      case "completed":
        return { ok: true, value: state.value };
      case "failed":
        return { ok: false, error: state.error };
      case "cancelled":
        return state.result;
    }
    return undefined;
  }

  get isDropped(): boolean {
    return this.dropState !== "live";
  }

  get isCancelled(): boolean {
    return this.current.status === "cancelled";
  }

  get read(): boolean {
    return this.current.status === "pending" ? false : this.current.read;
  }

  /** @internal Bound to its schedule event. */
  bindTo(eventId: number): void {
    this.current = { ...this.current, eventId };
  }

  /** @internal The result arrived (only a pending leaf takes one). */
  settle(outcome: Outcome): void {
    if (this.current.status !== "pending") return;
    const { eventId } = this.current;
    this.current = outcome.ok
      ? { status: "completed", eventId, value: outcome.value, read: false }
      : { status: "failed", eventId, error: outcome.error, read: false };
  }

  /** @internal A subscription stops taking arrivals. */
  cancel(): void {
    if (this.current.status === "cancelled") return;
    this.current = {
      status: "cancelled",
      eventId: this.current.eventId,
      result: this.outcome,
      read: this.read,
    };
  }

  protected onStart(host: TaskHost): void {
    host.emit(this as LeafTask<unknown>);
  }

  poll(): Outcome | undefined {
    return this.outcome;
  }

  drop(host: TaskHost): void {
    if (this.isDropped) return;
    this.dropState = this.outcome === undefined ? "droppedPending" : "droppedSettled";
    host.dropped(this as LeafTask<unknown>);
  }

  override markRead(): void {
    if (this.current.status !== "pending") this.current = { ...this.current, read: true };
  }
}

/** What keepAlive() returns: delegates to the task, but losing a race leaves the task alive. */
class KeptTask<T> extends DurableTask<T> {
  constructor(private readonly inner: DurableTask<T>) {
    super();
  }
  protected onStart(host: TaskHost): void {
    this.inner.start(host);
  }
  poll(host: TaskHost): Outcome | undefined {
    return this.inner.poll(host);
  }
  drop(): void {}
  override markRead(): void {
    this.inner.markRead();
  }
}

/** An activity task; `.withTag()` routes it to workers that accept the tag. */
export class ActivityTask<T = unknown> extends LeafTask<T> {
  /** Set the activity's tag before the task is yielded. Returns the same task. */
  withTag(tag: string): this {
    if (this.started) throw new Error("withTag() must be called before the activity is yielded");
    if (typeof tag !== "string" || tag === "" || Buffer.byteLength(tag) > 256) {
      throw new RangeError("an activity tag must be a non-empty string of at most 256 bytes");
    }
    if (this.action.kind === "activity") this.action.tag = tag;
    return this;
  }

  get tag(): string | null {
    return this.action.kind === "activity" ? (this.action.tag ?? null) : null;
  }
}

/** One entry of an `all` result: the value, or the error text (duroxide-node's shape). */
export type Settled<T> = { ok: T; err?: undefined } | { ok?: undefined; err: string };

/** Waits for every child; never throws; results in argument order. */
export class AllTask<T extends unknown[] = unknown[]> extends DurableTask<{ [K in keyof T]: Settled<T[K]> }> {
  constructor(readonly children: DurableTask[]) {
    super();
  }
  protected onStart(host: TaskHost): void {
    for (const child of this.children) child.start(host);
  }
  poll(host: TaskHost): Outcome | undefined {
    const outcomes = this.children.map((child) => child.poll(host));
    if (outcomes.some((o) => o === undefined)) return undefined;
    return {
      ok: true,
      value: outcomes.map((o) => (o!.ok ? { ok: o!.value } : { err: errorText(o!.error) })),
    };
  }
  drop(host: TaskHost): void {
    for (const child of this.children) child.drop(host);
  }
  override markRead(): void {
    for (const child of this.children) child.markRead();
  }
}

/** The result of a race: which child won, and its value. */
export interface RaceResult<T = unknown> {
  index: number;
  value: T;
}

/**
 * Resolves with the first child to finish, in history order (ties: lowest index); the losers are
 * dropped, which cancels their activities, sub-orchestrations and subscriptions. A winner that
 * failed makes the race throw its error (with `index` set on a TaskFailedError).
 */
export class RaceTask<T = unknown> extends DurableTask<RaceResult<T>> {
  private winner: { index: number; outcome: Outcome } | null = null;

  constructor(readonly children: DurableTask[]) {
    super();
    if (children.length === 0) throw new Error("race() needs at least one task");
  }
  protected onStart(host: TaskHost): void {
    for (const child of this.children) child.start(host);
  }
  poll(host: TaskHost): Outcome | undefined {
    if (!this.winner) {
      for (let i = 0; i < this.children.length; i++) {
        const outcome = this.children[i]!.poll(host);
        if (outcome) {
          this.winner = { index: i, outcome };
          this.children.forEach((child, j) => {
            if (j !== i) child.drop(host);
          });
          break;
        }
      }
      if (!this.winner) return undefined;
    }
    const { index, outcome } = this.winner;
    if (outcome.ok) return { ok: true, value: { index, value: outcome.value } };
    if (outcome.error instanceof TaskFailedError) outcome.error.index = index;
    return outcome;
  }
  drop(host: TaskHost): void {
    for (const child of this.children) child.drop(host);
  }
  override markRead(): void {
    if (this.winner) this.children[this.winner.index]!.markRead();
  }
}

/**
 * A generator run as a task: advances each time the task it awaits becomes ready. The root
 * orchestration is one; so are retry loops and helper generators passed to all()/race().
 */
export class CoroutineTask<T = unknown> extends DurableTask<T> {
  private awaiting: DurableTask | null = null;
  outcome: Outcome | undefined;
  private isDropped = false;

  constructor(private readonly generator: Generator<unknown, T, unknown>) {
    super();
  }

  protected onStart(host: TaskHost): void {
    this.resume(host, null);
  }

  poll(host: TaskHost): Outcome | undefined {
    while (!this.outcome && !this.isDropped && this.awaiting) {
      const ready = this.awaiting.poll(host);
      if (!ready) return undefined;
      this.awaiting.markRead();
      this.resume(host, ready);
    }
    return this.outcome;
  }

  drop(host: TaskHost): void {
    if (this.isDropped) return;
    this.isDropped = true;
    this.awaiting?.drop(host);
  }

  private resume(host: TaskHost, input: Outcome | null): void {
    let step: IteratorResult<unknown, T>;
    try {
      if (input === null) step = this.generator.next();
      else if (input.ok) step = this.generator.next(input.value);
      else step = this.generator.throw(input.error);
    } catch (error) {
      this.outcome = { ok: false, error };
      this.awaiting = null;
      return;
    }
    if (step.done) {
      this.outcome = { ok: true, value: step.value };
      this.awaiting = null;
      return;
    }
    const task = toTask(step.value);
    if (!task) {
      this.outcome = {
        ok: false,
        error: new TypeError(
          `an orchestration may only yield durable tasks (ctx.scheduleActivity(), ctx.all(), …); it yielded ${describeValue(step.value)}`,
        ),
      };
      this.awaiting = null;
      return;
    }
    this.awaiting = task;
    task.start(host);
  }
}

/** A task, or a generator object to run as a coroutine (lets helpers run inside all/race). */
export type TaskLike = DurableTask | Generator<unknown, unknown, unknown>;

export function toTask(value: unknown): DurableTask | null {
  if (value instanceof DurableTask) return value;
  if (isGenerator(value)) return new CoroutineTask(value);
  return null;
}

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Generator).next === "function" &&
    typeof (value as Generator).throw === "function" &&
    typeof (value as Generator)[Symbol.iterator] === "function"
  );
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    if (typeof (value as { then?: unknown }).then === "function")
      return "a Promise (use activities for async work)";
    return `an object (${value.constructor?.name ?? "Object"})`;
  }
  return typeof value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
