/**
 * Shared pieces of the hostile-input tests: wire-object builders, a row-by-row picture of a schema,
 * and an assertion for the permanent errors of docs/store-contract.md §3.
 */
import type pg from "pg";
import { expect } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { ProviderError } from "../../src/provider/errors.ts";
import type {
  ErrorDetails,
  Event,
  EventKind,
  FetchedOrchestrationItem,
  FetchedWorkItem,
  Provider,
  WorkItem,
} from "../../src/provider/types.ts";

/** Every table of the store that holds state. */
export const TABLES = [
  "instances",
  "executions",
  "history",
  "orchestrator_queue",
  "worker_queue",
  "instance_locks",
  "kv_store",
  "kv_delta",
  "sessions",
] as const;

/** The tables with an instance_id column (all but sessions). */
const INSTANCE_TABLES = TABLES.filter((t) => t !== "sessions");

/** Every row of every table of `schema` as text, in a stable order: what "the store" is. */
export async function snapshot(pool: pg.Pool, schema: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of TABLES) {
    const { rows } = await pool.query<{ row: string }>(
      `SELECT t::text AS row FROM ${quoteSchema(schema)}.${name} t ORDER BY t::text`,
    );
    out[name] = rows.map((r) => r.row);
  }
  return out;
}

/** Every row of one instance in every table (a bystander's whole footprint). */
export async function instanceRows(
  pool: pg.Pool,
  schema: string,
  instance: string,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of INSTANCE_TABLES) {
    const { rows } = await pool.query<{ row: string }>(
      `SELECT t::text AS row FROM ${quoteSchema(schema)}.${name} t WHERE t.instance_id = $1 ORDER BY t::text`,
      [instance],
    );
    out[name] = rows.map((r) => r.row);
  }
  return out;
}

/** Await `promise`, expecting a permanent ProviderError whose message matches `pattern`. */
export async function expectPermanent(promise: Promise<unknown>, pattern: RegExp): Promise<ProviderError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, `expected a ProviderError matching ${pattern}`).toBeInstanceOf(ProviderError);
  expect((error as ProviderError).retryable).toBe(false);
  expect((error as ProviderError).message).toMatch(pattern);
  return error as ProviderError;
}

export function event(
  instance: string,
  eventId: number,
  kind: EventKind,
  sourceEventId: number | null = null,
): Event {
  return {
    event_id: eventId,
    source_event_id: sourceEventId,
    instance_id: instance,
    execution_id: 1,
    timestamp_ms: 1_700_000_000_000 + eventId,
    duroxide_version: "0.1.26",
    ...kind,
  } as Event;
}

export function startItem(instance: string, orchestration = "Orch", input = "{}"): WorkItem {
  return {
    StartOrchestration: {
      instance,
      orchestration,
      input,
      version: "1.0.0",
      parent_instance: null,
      parent_id: null,
      execution_id: 1,
    },
  };
}

export function startedEvent(instance: string, name = "Orch", input = "{}"): Event {
  return event(instance, 1, {
    type: "OrchestrationStarted",
    name,
    version: "1.0.0",
    input,
    parent_instance: null,
    parent_id: null,
  });
}

export function activity(instance: string, id: number, name = "A", input = "{}"): WorkItem {
  return { ActivityExecute: { instance, execution_id: 1, id, name, input } };
}

export function appError(message: string): ErrorDetails {
  return { Application: { kind: "ActivityFailed", message, retryable: false } };
}

/** Fetch an orchestration item that must be ready (any instance), failing the test otherwise. */
export async function fetchReadyOrchestrationItem(
  provider: Provider,
  lockMs: number,
): Promise<FetchedOrchestrationItem> {
  const fetched = await provider.fetchOrchestrationItem(lockMs, 0, null);
  expect(fetched, "an orchestration item is ready").not.toBeNull();
  return fetched as FetchedOrchestrationItem;
}

/** Fetch a work item that must be ready (any tag), failing the test otherwise. */
export async function fetchReadyWorkItem(provider: Provider, lockMs: number): Promise<FetchedWorkItem> {
  const fetched = await provider.fetchWorkItem(lockMs, 0, null, { kind: "any" });
  expect(fetched, "a work item is ready").not.toBeNull();
  return fetched as FetchedWorkItem;
}
