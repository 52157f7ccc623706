/**
 * A stress scenario: the orchestrations and activities it registers, and the input of each
 * instance the pump starts.
 */
import type { Runtime } from "../../runtime/index.ts";
import type { StressConfig } from "../config.ts";

export interface Scenario {
  name: string;
  /** The orchestration the pump starts. */
  orchestration: string;
  register(runtime: Runtime, config: StressConfig): void;
  input(config: StressConfig): unknown;
  /** Activities one instance runs, for activities/s. */
  activitiesPerInstance(config: StressConfig): number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
