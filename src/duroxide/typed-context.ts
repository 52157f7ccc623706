/**
 * duroxide-node's *Typed scheduling calls decode a result once more when it is still a JSON text
 * (a value that was JSON-encoded twice, e.g. an activity returning JSON.stringify(obj)): for
 * activities (with or without retry or session), sub-orchestrations, and each `ok`/`err` of
 * allTyped and the winner's value of raceTyped. The main API's typed aliases do not, so the
 * orchestration code gets a view of its context whose *Typed calls wrap the task in a small
 * generator doing that decoding (a generator is a task, inside all/race too). Every other
 * member is the context itself.
 */
import type { OrchestrationContext } from "../runtime/orchestration-context.ts";
import type { RetryPolicy } from "../runtime/retry.ts";
import type { ActivityTask, TaskLike } from "../runtime/tasks.ts";

/** Parse a string that holds JSON; anything else as is (duroxide-node's rule). */
function parseIfJsonText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

type Decoded = Generator<unknown, unknown, unknown>;

function decoded(task: TaskLike, decode: (value: unknown) => unknown): Decoded {
  return (function* () {
    return decode(yield task);
  })();
}

/** A typed activity: still chainable with `.withTag()` like duroxide-node's descriptor. */
function decodedActivity(task: ActivityTask): Decoded & { withTag(tag: string): Decoded } {
  const wrapper = decoded(task, parseIfJsonText) as Decoded & { withTag(tag: string): Decoded };
  wrapper.withTag = (tag: string) => {
    task.withTag(tag);
    return wrapper;
  };
  return wrapper;
}

function decodeSettled(results: unknown): unknown {
  if (!Array.isArray(results)) return results;
  return results.map((r: { ok?: unknown; err?: unknown }) =>
    r && typeof r === "object" && "ok" in r && r.ok !== undefined
      ? { ...r, ok: parseIfJsonText(r.ok) }
      : r && typeof r === "object" && "err" in r
        ? { ...r, err: parseIfJsonText(r.err) }
        : r,
  );
}

function decodeWinner(result: unknown): unknown {
  if (!result || typeof result !== "object") return result;
  const r = result as { index: number; value: unknown };
  return { ...r, value: parseIfJsonText(r.value) };
}

/** The context the user's orchestration receives. */
export function typedContext(ctx: OrchestrationContext): OrchestrationContext {
  const view = Object.create(ctx) as OrchestrationContext;
  const overrides = {
    scheduleActivityTyped: (name: string, input?: unknown) =>
      decodedActivity(ctx.scheduleActivity(name, input)),
    scheduleActivityOnSessionTyped: (name: string, input: unknown, sessionId: string) =>
      decodedActivity(ctx.scheduleActivityOnSession(name, input, sessionId)),
    scheduleActivityWithRetryTyped: (name: string, input: unknown, retry: RetryPolicy) =>
      decoded(ctx.scheduleActivityWithRetry(name, input, retry), parseIfJsonText),
    scheduleActivityWithRetryOnSessionTyped: (
      name: string,
      input: unknown,
      retry: RetryPolicy,
      sessionId: string,
    ) => decoded(ctx.scheduleActivityWithRetryOnSession(name, input, retry, sessionId), parseIfJsonText),
    scheduleSubOrchestrationTyped: (name: string, input?: unknown) =>
      decoded(ctx.scheduleSubOrchestration(name, input), parseIfJsonText),
    scheduleSubOrchestrationWithIdTyped: (name: string, instanceId: string, input?: unknown) =>
      decoded(ctx.scheduleSubOrchestrationWithId(name, instanceId, input), parseIfJsonText),
    allTyped: (tasks: TaskLike[]) => decoded(ctx.all(tasks), decodeSettled),
    raceTyped: (...tasks: TaskLike[] | [TaskLike[]]) => decoded(ctx.race(...tasks), decodeWinner),
  };
  return Object.assign(view, overrides) as unknown as OrchestrationContext;
}
