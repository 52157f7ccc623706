/**
 * duroxide-node's ActivityContext: the main API's context with duroxide-node's fields, whose
 * getClient() returns this entry point's Client (duroxide-node's result shapes).
 */
import type { Provider } from "../provider/types.ts";
import type { ActivityContext as StoreActivityContext } from "../runtime/activity-context.ts";
import { Client } from "./client.ts";

export class ActivityContext {
  readonly instanceId: string;
  readonly executionId: number;
  readonly orchestrationName: string;
  readonly orchestrationVersion: string;
  readonly activityName: string;
  readonly workerId: string;
  /** null for activities not scheduled on a session. */
  readonly sessionId: string | null;
  /** Beyond duroxide-node: the activity's event id in its orchestration's history. */
  readonly activityId: number;

  /** @internal */
  constructor(
    private readonly store: StoreActivityContext,
    private readonly provider: Provider,
  ) {
    this.instanceId = store.instanceId;
    this.executionId = store.executionId;
    this.orchestrationName = store.orchestrationName;
    this.orchestrationVersion = store.orchestrationVersion;
    this.activityName = store.activityName;
    this.workerId = store.workerId;
    this.sessionId = store.sessionId;
    this.activityId = store.activityId;
  }

  /** The tag given with `.withTag()`, or null. */
  tag(): string | null {
    return this.store.tag();
  }

  /** True once the orchestration no longer wants the result (a lost race, a finished instance). */
  isCancelled(): boolean {
    return this.store.isCancelled();
  }

  /** Beyond duroxide-node: aborted when isCancelled() turns true (pass it to fetch() and friends). */
  get signal(): AbortSignal {
    return this.store.signal;
  }

  /** A client over the same store. */
  getClient(): Client {
    return new Client(this.provider);
  }

  traceInfo(message: string): void {
    this.store.traceInfo(String(message));
  }
  traceWarn(message: string): void {
    this.store.traceWarn(String(message));
  }
  traceError(message: string): void {
    this.store.traceError(String(message));
  }
  traceDebug(message: string): void {
    this.store.traceDebug(String(message));
  }
}
