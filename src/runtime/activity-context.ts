/**
 * ActivityContext: what an activity function gets besides its input. Activities run at least once
 * (a crash or lock loss re-runs them) and are never replayed, so their traces always print.
 * Cancellation (the orchestration no longer wants the result: a lost race, a finished or deleted
 * instance) is noticed when renewing the work item's lock fails; it shows as `isCancelled()` and
 * aborts `signal`, which can be passed to fetch() and friends.
 */
import type { Provider } from "../provider/types.ts";
import { Client } from "./client.ts";
import type { Logger } from "./logger.ts";

export interface ActivityInfo {
  instanceId: string;
  executionId: number;
  /** The orchestration that scheduled the activity ("unknown" when the store cannot tell). */
  orchestrationName: string;
  orchestrationVersion: string;
  activityId: number;
  activityName: string;
  workerId: string;
  sessionId: string | null;
  tag: string | null;
}

export class ActivityContext {
  readonly instanceId: string;
  readonly executionId: number;
  /** Name of the orchestration that scheduled this activity ("unknown" if it cannot be told). */
  readonly orchestrationName: string;
  /** Its version ("unknown" if it cannot be told). */
  readonly orchestrationVersion: string;
  readonly activityId: number;
  readonly activityName: string;
  readonly workerId: string;
  /** The session this activity is pinned to; null for ordinary activities. */
  readonly sessionId: string | null;
  private readonly activityTag: string | null;

  /** @internal */
  constructor(
    info: ActivityInfo,
    private readonly controller: AbortController,
    private readonly provider: Provider,
    private readonly logger: Logger,
  ) {
    this.instanceId = info.instanceId;
    this.executionId = info.executionId;
    this.orchestrationName = info.orchestrationName;
    this.orchestrationVersion = info.orchestrationVersion;
    this.activityId = info.activityId;
    this.activityName = info.activityName;
    this.workerId = info.workerId;
    this.sessionId = info.sessionId;
    this.activityTag = info.tag;
  }

  /** Alias of activityName. */
  get name(): string {
    return this.activityName;
  }

  /** The tag the activity was scheduled with, or null. */
  tag(): string | null {
    return this.activityTag;
  }

  /** Aborted when the orchestration no longer wants this activity's result. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  isCancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** A client over the same store, e.g. to raise an event or start another orchestration. */
  getClient(): Client {
    return new Client(this.provider);
  }

  traceInfo(message: string): void {
    this.logger.info(this.prefix(message), this.logFields());
  }
  traceWarn(message: string): void {
    this.logger.warn(this.prefix(message), this.logFields());
  }
  traceError(message: string): void {
    this.logger.error(this.prefix(message), this.logFields());
  }
  traceDebug(message: string): void {
    this.logger.debug(this.prefix(message), this.logFields());
  }

  /** The fields of this activity's log lines (docs/observability.md "Structured logs"). */
  private logFields() {
    return {
      instanceId: this.instanceId,
      executionId: this.executionId,
      orchestrationName: this.orchestrationName,
      activityId: this.activityId,
      activityName: this.activityName,
    };
  }

  private prefix(message: string): string {
    return `[${this.instanceId} ${this.activityName}#${this.activityId}] ${message}`;
  }
}
