/**
 * The instance's KV store (docs/replay-rules.md §13.11): writes act at once on the turn's KV map and
 * record `KeyValueSet` / `KeyValueCleared` / `KeyValuesCleared`; replay compares key and value
 * (not the write time, which a replayed write takes from its event, so prune decisions replay too).
 */
import type { Event } from "../../provider/types.ts";
import { clip, plainEvent, type RecordCommand } from "./command.ts";

export interface KvSetAction {
  kind: "kvSet";
  key: string;
  value: string;
  entry: { value: string; lastUpdatedAtMs: number };
}
export interface KvClearAction {
  kind: "kvClear";
  key: string;
}
export interface KvClearAllAction {
  kind: "kvClearAll";
}

const describeKeyEvent = (event: Event) =>
  event.type === "KeyValueSet" || event.type === "KeyValueCleared"
    ? `${event.type}(${event.key})#${event.event_id}`
    : plainEvent(event);

export const kvSet: RecordCommand<KvSetAction> = {
  family: "record",
  kind: "kvSet",
  recordedAs: "KeyValueSet",
  matches: (action, event) =>
    event.type === "KeyValueSet" && action.key === event.key && action.value === event.value,
  describe: (action) => `KeyValueSet(${action.key}=${clip(action.value)})`,
  describeEvent: describeKeyEvent,
  record: (action) => ({
    type: "KeyValueSet",
    key: action.key,
    value: action.value,
    last_updated_at_ms: action.entry.lastUpdatedAtMs,
  }),
  replayed(action, event) {
    // Replayed writes keep the time they were first made, so prune decisions replay too.
    if (event.type === "KeyValueSet") action.entry.lastUpdatedAtMs = event.last_updated_at_ms;
  },
};

export const kvClear: RecordCommand<KvClearAction> = {
  family: "record",
  kind: "kvClear",
  recordedAs: "KeyValueCleared",
  matches: (action, event) => event.type === "KeyValueCleared" && action.key === event.key,
  describe: (action) => `KeyValueCleared(${action.key})`,
  describeEvent: describeKeyEvent,
  record: (action) => ({ type: "KeyValueCleared", key: action.key }),
};

export const kvClearAll: RecordCommand<KvClearAllAction> = {
  family: "record",
  kind: "kvClearAll",
  recordedAs: "KeyValuesCleared",
  matches: (_action, event) => event.type === "KeyValuesCleared",
  describe: () => "KeyValuesCleared",
  describeEvent: plainEvent,
  record: () => ({ type: "KeyValuesCleared" }),
};
