/**
 * A stress scenario: the orchestrations and activities it registers, and the input of each
 * instance the pump starts.
 */
import type { Runtime } from "../../src/runtime/index.ts";
import type { StressConfig } from "../config.ts";
import { continueAsNewScenario } from "./continue-as-new.ts";
import { fanOutScenario } from "./fan-out.ts";
import { largePayloadScenario } from "./large-payload.ts";

export interface Scenario {
  name: string;
  /** The orchestration the pump starts. */
  orchestration: string;
  register(runtime: Runtime, config: StressConfig): void;
  input(config: StressConfig): unknown;
  /** Activities one instance runs, for activities/s. */
  activitiesPerInstance(config: StressConfig): number;
}

export const scenarios: Record<string, Scenario> = {
  "fan-out": fanOutScenario,
  "large-payload": largePayloadScenario,
  "continue-as-new": continueAsNewScenario,
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
