/** The stress scenarios by name (`--scenario`). */
import { continueAsNewScenario } from "./continue-as-new.ts";
import { fanOutScenario } from "./fan-out.ts";
import { largePayloadScenario } from "./large-payload.ts";
import type { Scenario } from "./scenario.ts";

export type { Scenario } from "./scenario.ts";

export const scenarios: Record<string, Scenario> = {
  "fan-out": fanOutScenario,
  "large-payload": largePayloadScenario,
  "continue-as-new": continueAsNewScenario,
};
