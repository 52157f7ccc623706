/**
 * Durable timers (docs/replay-rules.md §13.2): `TimerCreated` records the deadline (the runtime's clock
 * plus the delay, when the action is new; replay compares only that it is a timer), a delayed
 * `TimerFired` work item comes back as the `TimerFired` completion. A timer that loses a race is
 * not cancelled: its firing is recorded later and ignored.
 */
import type { MessageConverter, ScheduleCommand } from "./command.ts";

export interface TimerAction {
  kind: "timer";
  delayMs: number;
}

export const timer: ScheduleCommand<TimerAction> = {
  family: "schedule",
  kind: "timer",
  recordedAs: "TimerCreated",
  matches: (_action, event) => event.type === "TimerCreated",
  describe: (action) => `TimerCreated(${action.delayMs}ms)`,
  schedule: (action, log) => ({ type: "TimerCreated", fire_at_ms: log.clock() + action.delayMs }),
  bind(leaf, state) {
    state.open.set(leaf.eventId!, leaf);
    return false;
  },
  completions: { TimerFired: () => ({ ok: true, value: null }) },
  dispatch({ event }, turn, live) {
    if (!live || event.type !== "TimerCreated") return;
    turn.orchestratorItems.push({
      TimerFired: {
        instance: turn.instance,
        execution_id: turn.executionId,
        id: event.event_id,
        fire_at_ms: event.fire_at_ms,
      },
    });
  },
};

export const timerFired: MessageConverter<"TimerFired"> = {
  message: "TimerFired",
  convert(m, { accept, log }) {
    if (accept(m.execution_id, m.id, "TimerCreated", "TimerFired"))
      log.append({ type: "TimerFired", fire_at_ms: m.fire_at_ms }, m.id);
  },
};
