/**
 * Custom status (docs/replay-rules.md §13.10): `setCustomStatus` / `resetCustomStatus` act at once and
 * record `CustomStatusUpdated`; replay checks only that a status update is there (the value may
 * legitimately differ between runs).
 */
import { plainEvent, type RecordCommand } from "./command.ts";

export interface CustomStatusAction {
  kind: "customStatus";
  status: string | null;
}

export const customStatus: RecordCommand<CustomStatusAction> = {
  family: "record",
  kind: "customStatus",
  recordedAs: "CustomStatusUpdated",
  matches: (_action, event) => event.type === "CustomStatusUpdated",
  describe: () => "CustomStatusUpdated",
  describeEvent: plainEvent,
  record: (action) => ({ type: "CustomStatusUpdated", status: action.status }),
};
