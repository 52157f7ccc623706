/**
 * Setups shared by the management, deletion, bulk_deletion and prune categories.
 */
import type { Event, ExecutionMetadata, Provider } from "pg-durable";
import {
  ack,
  admin,
  appError,
  continueAsNew,
  expectOrchestrationItem,
  failedEvent,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

/** One turn that starts `instance` (optionally as a child of `parent`) and ends with `metadata`. */
async function startWith(
  provider: Provider,
  instance: string,
  metadata: ExecutionMetadata,
  parent?: string,
  extraEvents: Event[] = [],
): Promise<void> {
  const parentOptions = parent ? { parentInstance: parent, parentId: 1 } : {};
  await provider.enqueueForOrchestrator(startItem(instance, parentOptions), null);
  const fetched = await expectOrchestrationItem(provider);
  if (fetched.item.instance !== instance)
    throw new Error(`expected ${instance}, fetched ${fetched.item.instance}`);
  await ack(provider, fetched.lockToken, {
    events: [startedEvent(instance, 1, parentOptions), ...extraEvents],
    metadata: parent ? { ...metadata, parentInstanceId: parent } : metadata,
  });
}

/** A single-execution instance whose execution is Completed (output "done"). */
export function createCompletedInstance(
  provider: Provider,
  instance: string,
  parent?: string,
): Promise<void> {
  return startWith(provider, instance, testMetadata({ status: "Completed", output: "done" }), parent);
}

/** A single-execution instance whose execution Failed with an application error. */
export function createFailedInstance(provider: Provider, instance: string): Promise<void> {
  return startWith(provider, instance, testMetadata({ status: "Failed", output: "boom" }), undefined, [
    failedEvent(instance, 2, appError("boom")),
  ]);
}

/** A "cancelled" instance: Failed with a cancellation as its error. */
export function createCancelledInstance(provider: Provider, instance: string): Promise<void> {
  return startWith(
    provider,
    instance,
    testMetadata({ status: "Failed", output: "canceled: user request" }),
    undefined,
    [
      failedEvent(instance, 2, {
        Application: { kind: { Cancelled: { reason: "user request" } }, message: "", retryable: false },
      }),
    ],
  );
}

/** A running instance, optionally a child of `parent`. */
export function createRunningInstance(provider: Provider, instance: string, parent?: string): Promise<void> {
  return startWith(provider, instance, testMetadata({ status: "Running" }), parent);
}

/**
 * The fixture create_multi_execution_instance (docs/validation.md): executions 1…n, each acked with its own
 * OrchestrationStarted; 1…n−1 end ContinuedAsNew and n ends `last` (Completed, or Running).
 */
export async function createMultiExecutionInstance(
  provider: Provider,
  instance: string,
  executions: number,
  last: "Completed" | "Running" = "Completed",
): Promise<void> {
  for (let executionId = 1; executionId <= executions; executionId++) {
    const item = executionId === 1 ? startItem(instance) : continueAsNew(instance);
    await provider.enqueueForOrchestrator(item, null);
    const fetched = await expectOrchestrationItem(provider);
    if (fetched.item.instance !== instance)
      throw new Error(`expected ${instance}, fetched ${fetched.item.instance}`);
    await ack(provider, fetched.lockToken, {
      executionId,
      events: [startedEvent(instance, 1, { executionId })],
      metadata: testMetadata({ status: executionId === executions ? last : "ContinuedAsNew" }),
    });
  }
}

/** Whether the store still knows `instance` (getInstanceInfo succeeds). */
export async function instanceExists(provider: Provider, instance: string): Promise<boolean> {
  return await admin(provider)
    .getInstanceInfo(instance)
    .then(
      () => true,
      () => false,
    );
}
