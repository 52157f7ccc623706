/**
 * Building history events: ids are assigned here, contiguous per execution, in append order.
 */
import type { Event, EventKind, EventOf } from "../provider/types.ts";
import { ENGINE_VERSION } from "./semver.ts";

/** Appends events to a turn's delta with the next event ids of the execution. */
export class EventLog {
  readonly delta: Event[] = [];

  constructor(
    readonly instance: string,
    readonly executionId: number,
    private nextId: number,
    /** The runtime's clock: event timestamps and timer deadlines (docs/clocks.md). */
    readonly clock: () => number = Date.now,
  ) {}

  append(kind: EventKind, sourceEventId: number | null = null): Event {
    const event = {
      event_id: this.nextId++,
      source_event_id: sourceEventId,
      instance_id: this.instance,
      execution_id: this.executionId,
      timestamp_ms: this.clock(),
      duroxide_version: ENGINE_VERSION,
      ...kind,
    } as Event;
    this.delta.push(event);
    return event;
  }

  /** The id the next appended event will get. */
  peekId(): number {
    return this.nextId;
  }
}

export function isTerminalEvent(event: Event): boolean {
  return (
    event.type === "OrchestrationCompleted" ||
    event.type === "OrchestrationFailed" ||
    event.type === "OrchestrationContinuedAsNew"
  );
}

/** Completed or Failed: nothing can follow (unlike continue-as-new, which opens a successor). */
export function isFinalEvent(event: Event): boolean {
  return event.type === "OrchestrationCompleted" || event.type === "OrchestrationFailed";
}

export function findStarted(events: readonly Event[]): EventOf<"OrchestrationStarted"> | null {
  const first = events[0];
  return first && first.type === "OrchestrationStarted" ? first : null;
}

/**
 * The parent's execution id, written next to parent_instance/parent_id on a child's start, its
 * OrchestrationStarted and its ContinueAsNew (duroxide ≥ 0.1.30): a child whose parent continued
 * as new must answer the execution that scheduled it. Null when absent (older writers): the
 * dispatcher then looks the parent up (parent-link.ts).
 */
export function parentExecutionId(started: object): number | null {
  const value = (started as { parent_execution_id?: unknown }).parent_execution_id;
  return typeof value === "number" && value > 0 ? value : null;
}

/**
 * The id stored in SubOrchestrationScheduled for an auto-named child: duroxide's `sub::<event id>`
 * in the first execution; later executions add theirs, because event ids restart at 1 after
 * continue-as-new and a child id must never be reused by the next generation.
 */
export function autoChildId(executionId: number, eventId: number): string {
  return executionId === 1 ? `sub::${eventId}` : `sub::e${executionId}-${eventId}`;
}

/** The full id of a child instance from the id stored in SubOrchestrationScheduled. */
export function childInstanceId(parent: string, stored: string): string {
  return stored.startsWith("sub::") ? `${parent}::${stored}` : stored;
}
