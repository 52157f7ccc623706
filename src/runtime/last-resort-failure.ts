/**
 * What the poison path writes when the normal failure record cannot be stored (docs/replay-rules.md §10).
 *
 * A poisoned batch normally ends its instance with the full record (failTurn: the batch as JSON,
 * the parent notified). If the store refuses that record — its name, version or id cannot be
 * stored, or it is too large — retrying changes nothing, so the dispatcher steps down:
 *   1. a minimal record: a Failed terminal event and metadata whose free text is truncated and made
 *      storable (NUL and lone surrogates → U+FFFD), no parent notification, no other messages;
 *   2. if even that is refused (the instance id itself cannot be indexed in history), the batch
 *      is acked away with nothing written (dropBatch), after an error log naming the instance.
 * Either way the instance stops being fetched: never an endless retry loop.
 */
import type { ErrorDetails, Event, OrchestrationItem } from "../provider/types.ts";
import { displayError } from "./errors.ts";
import { ENGINE_VERSION, parseSemver } from "./semver.ts";
import type { AckPlan } from "./turn.ts";

/** Longest text the minimal record keeps of a name (UTF-16 units) or of the reason. */
const NAME_CHARS = 256;
const REASON_CHARS = 4096;
/** duroxide's sentinel for an event id that cannot be known (unreadable history). */
const UNKNOWN_EVENT_ID = 99_999;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` made storable in a text column, and at most `max` UTF-16 units long. */
export function storable(text: string, max: number): string {
  const clean = (s: string) => s.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
  return text.length <= max ? clean(text) : `${clean(text.slice(0, max))}…`;
}

/** The minimal Failed record of a poisoned batch (see the file comment). */
export function minimalFailurePlan(
  item: OrchestrationItem,
  attemptCount: number,
  maxAttempts: number,
  reason: string,
): AckPlan {
  const name = storable(item.orchestrationName, NAME_CHARS);
  const version = storable(item.version, NAME_CHARS);
  const details: ErrorDetails = {
    Poison: {
      attempt_count: attemptCount,
      max_attempts: maxAttempts,
      message_type: { Orchestration: { instance: item.instance, execution_id: item.executionId } },
      message: storable(`the failure record could not be stored: ${reason}`, REASON_CHARS),
    },
  };
  const envelope = (eventId: number) => ({
    event_id: eventId,
    source_event_id: null,
    instance_id: item.instance,
    execution_id: item.executionId,
    timestamp_ms: Date.now(),
    duroxide_version: ENGINE_VERSION,
  });
  const delta: Event[] = [];
  let nextId: number;
  if (item.historyError !== null) nextId = UNKNOWN_EVENT_ID;
  else nextId = (item.history.at(-1)?.event_id ?? 0) + 1;
  const isNew = item.historyError === null && item.history.length === 0;
  if (isNew) {
    // The instance must exist to show Failed: an input-less start, as the poison path does.
    delta.push({
      ...envelope(nextId++),
      type: "OrchestrationStarted",
      name,
      version,
      input: "",
      parent_instance: null,
      parent_id: null,
    });
  }
  delta.push({ ...envelope(nextId), type: "OrchestrationFailed", details });
  return {
    executionId: item.executionId,
    delta,
    workerItems: [],
    orchestratorItems: [],
    metadata: {
      status: "Failed",
      output: displayError(details),
      orchestrationName: name,
      orchestrationVersion: version,
      ...(isNew ? { pinnedDuroxideVersion: parseSemver(ENGINE_VERSION) } : {}),
    },
    cancelledActivities: [],
  };
}
