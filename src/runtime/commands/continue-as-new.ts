/**
 * Continue-as-new (docs/replay-rules.md §13.9): the code yields a task that ends the execution. The turn
 * records `OrchestrationContinuedAsNew` and sends a `ContinueAsNew` item carrying the input, the
 * parent link, the custom status and the queue messages the code never read (at most
 * MAX_CARRY_FORWARD). That item opens the next execution: `OrchestrationStarted` at event 1, then
 * the carried messages as fresh `ExternalEventPersistent` arrivals.
 */
import type { ContinueAsNewItem, EventOf } from "../../provider/types.ts";
import type { EventLog } from "../events.ts";
import { parentExecutionId } from "../events.ts";
import { DurableTask, type Outcome, type TaskHost } from "../tasks.ts";
import type { TurnOutput } from "./command.ts";

/** Carried-forward queue messages per continue-as-new (duroxide's MAX_CARRY_FORWARD_EVENTS since 0.1.27). */
export const MAX_CARRY_FORWARD = 100;

/** What the code yields: ends the execution; never resumes the code. */
export class ContinueAsNewTask extends DurableTask<never> {
  constructor(
    readonly input: string,
    readonly version: string | null,
  ) {
    super();
  }
  protected onStart(host: TaskHost): void {
    host.continueAsNew(this.input, this.version);
  }
  poll(): Outcome | undefined {
    return undefined;
  }
  drop(): void {}
}

/** The request the code made, and what the execution hands its successor. */
export interface ContinuationRequest {
  input: string;
  version: string | null;
  /** Unread queue messages, [queue, data] in arrival order (capped here). */
  unread: [string, string][];
  customStatus: string | null;
}

/** Ends the execution: the terminal event, and the item that opens its successor. */
export function continueExecution(
  turn: TurnOutput,
  orchestration: string,
  started: EventOf<"OrchestrationStarted">,
  request: ContinuationRequest,
  warn: (message: string) => void,
): void {
  const { unread, customStatus } = request;
  if (unread.length > MAX_CARRY_FORWARD) {
    warn(
      `continue-as-new carries ${MAX_CARRY_FORWARD} of ${unread.length} unconsumed queue messages; the rest are dropped`,
    );
  }
  turn.log.append({ type: "OrchestrationContinuedAsNew", input: request.input });
  const parentLink = parentExecutionId(started);
  turn.orchestratorItems.push({
    ContinueAsNew: {
      instance: turn.instance,
      orchestration,
      input: request.input,
      version: request.version,
      // The successor keeps this execution's parent link (duroxide ≥ 0.1.30).
      ...(started.parent_instance && started.parent_id !== null
        ? {
            parent_instance: started.parent_instance,
            parent_id: started.parent_id,
            ...(parentLink !== null ? { parent_execution_id: parentLink } : {}),
          }
        : {}),
      carry_forward_events: unread.slice(0, MAX_CARRY_FORWARD),
      ...(customStatus !== null ? { initial_custom_status: customStatus } : {}),
    },
  });
}

/**
 * The `ContinueAsNew` message opening the next execution: its `OrchestrationStarted`, then the
 * carried queue messages. The new execution keeps the parent link, so a child that continues as
 * new still reports: from the item (duroxide ≥ 0.1.30 writes it), else from the ended execution's
 * start.
 */
export function openSuccessor(
  log: EventLog,
  continuing: ContinueAsNewItem,
  previousStart: EventOf<"OrchestrationStarted"> | null,
  resolved: { name: string; version: string },
): EventOf<"OrchestrationStarted"> {
  const carried = continuing.carry_forward_events ?? [];
  const fromItem = continuing.parent_instance !== undefined && continuing.parent_id !== undefined;
  const link = fromItem
    ? continuing
    : {
        parent_instance: previousStart?.parent_instance ?? null,
        parent_id: previousStart?.parent_id ?? null,
      };
  const linkExecution = parentExecutionId(fromItem ? continuing : (previousStart ?? {}));
  const started = log.append({
    type: "OrchestrationStarted",
    name: resolved.name,
    version: resolved.version,
    input: continuing.input,
    parent_instance: link.parent_instance ?? null,
    parent_id: link.parent_id ?? null,
    ...(link.parent_instance && linkExecution !== null ? { parent_execution_id: linkExecution } : {}),
    ...(carried.length > 0 ? { carry_forward_events: carried } : {}),
    ...(continuing.initial_custom_status !== undefined
      ? { initial_custom_status: continuing.initial_custom_status }
      : {}),
  } as EventOf<"OrchestrationStarted">) as EventOf<"OrchestrationStarted">;
  for (const [queue, data] of carried) log.append({ type: "ExternalEventPersistent", name: queue, data });
  return started;
}
