/** Classify a failed orchestration by the ErrorDetails of its OrchestrationFailed event. */
import type { ErrorDetails, Provider } from "../provider/types.ts";
import type { FailureCounts } from "./report.ts";

export async function failureKind(provider: Provider, instanceId: string): Promise<keyof FailureCounts> {
  try {
    const events = await provider.read(instanceId);
    const failed = events.findLast((e) => e.type === "OrchestrationFailed");
    const details = failed && "details" in failed ? (failed.details as ErrorDetails) : null;
    if (!details) return "infrastructure";
    if ("Configuration" in details) return "configuration";
    if ("Application" in details) return "application";
    return "infrastructure"; // Infrastructure and Poison
  } catch {
    return "infrastructure";
  }
}
