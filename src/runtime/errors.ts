/**
 * Error details as the runtime writes them (docs/store-contract.md §2) and the errors user code sees.
 */
import type { ErrorDetails } from "../provider/types.ts";

/**
 * The display string of an ErrorDetails: what a failed execution stores as its output and what a
 * caught task error carries as its message. Application errors display as their bare message.
 */
export function displayError(details: ErrorDetails): string {
  if ("Application" in details) {
    const { kind, message } = details.Application;
    if (typeof kind === "object") return `canceled: ${kind.Cancelled.reason}`;
    if (kind === "Panicked") return `orchestration panicked: ${message}`;
    return message;
  }
  if ("Infrastructure" in details) {
    return `infrastructure:${details.Infrastructure.operation}: ${details.Infrastructure.message}`;
  }
  if ("Configuration" in details) {
    const { resource, message } = details.Configuration;
    return `nondeterministic: ${message ?? resource}`;
  }
  const { attempt_count, max_attempts, message_type } = details.Poison;
  if ("Orchestration" in message_type) {
    return `poison: orchestration ${message_type.Orchestration.instance} exceeded ${attempt_count} attempts (max ${max_attempts})`;
  }
  if ("Activity" in message_type) {
    const a = message_type.Activity;
    return `poison: activity ${a.activity_name}#${a.activity_id} exceeded ${attempt_count} attempts (max ${max_attempts})`;
  }
  const f = message_type.FailedDeserialization;
  return `poison: orchestration ${f.instance} history deserialization failed after ${attempt_count} attempts (max ${max_attempts}): ${f.error}`;
}

/** Whether orchestration code may catch these details; anything else aborts the whole turn. */
export function isApplicationError(details: ErrorDetails): boolean {
  return "Application" in details;
}

export function applicationError(
  kind: "ActivityFailed" | "OrchestrationFailed",
  message: string,
): ErrorDetails {
  return { Application: { kind, message, retryable: false } };
}

export function nondeterminism(message: string): ErrorDetails {
  return { Configuration: { kind: "Nondeterminism", resource: "", message } };
}

/**
 * What a failed durable task (activity, sub-orchestration, retry, race winner) throws into the
 * orchestration. `message` is the display string, so an activity's own message comes through as is.
 */
export class TaskFailedError extends Error {
  override readonly name = "TaskFailedError";
  /** Set when the error comes out of a race: the index of the failed winner. */
  index?: number;

  constructor(readonly details: ErrorDetails) {
    super(displayError(details));
  }
}

/** Raised inside the engine when replayed code disagrees with history. */
export class NondeterminismError extends Error {
  override readonly name = "NondeterminismError";
}

/** A client wait ran out of time. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

/** The message of anything thrown by user code. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
