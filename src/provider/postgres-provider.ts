/**
 * PostgresProvider: the Provider / ProviderAdmin contract on Postgres.
 *
 * Reads like a table of contents: each method is one call of one PL/pgSQL function (see
 * migrations/ and docs/schema.sql), implemented in the module that owns that part of the store:
 *   orchestration-store.ts  orchestrator queue, instance locks, history, custom status, KV reads
 *   worker-queue.ts         worker queue and sessions
 *   admin.ts                ProviderAdmin (listings, info, metrics, deletion, pruning) and stats
 */
import pg from "pg";
import { migrate, quoteSchema } from "../migrate/migrations.ts";
import { PostgresAdmin } from "./admin.ts";
import * as orchestrations from "./orchestration-store.ts";
import { SqlFunctions } from "./sql.ts";
import type {
  CustomStatusChange,
  DispatcherCapabilityFilter,
  Event,
  ExecutionMetadata,
  FetchedOrchestrationItem,
  FetchedWorkItem,
  Provider,
  ProviderAdmin,
  ScheduledActivityIdentifier,
  SessionFetchConfig,
  SystemStats,
  TagFilter,
  WorkItem,
} from "./types.ts";
import { WakeupListener, type WakeupQueue } from "./wakeups.ts";
import * as workers from "./worker-queue.ts";

export interface PostgresProviderOptions {
  /** Schema holding the store's tables and functions. Default "public". */
  schema?: string;
  /** Use this pool (not closed by `close()`). Otherwise one is created from `connectionString`. */
  pool?: pg.Pool;
  connectionString?: string;
  /** Size of the pool created from `connectionString`. Default 10. */
  poolSize?: number;
  /**
   * How long a call waits for a free connection of the pool created from `connectionString`
   * before failing with a retryable error. Default 10 000 ms (pg's own default waits forever).
   */
  connectionTimeoutMs?: number;
  /** `application_name` of the pool's connections, so operators can find them in pg_stat_activity. */
  applicationName?: string;
  /** Apply pending migrations to the schema before returning. Default false. */
  migrate?: boolean;
  /** The clock passed to every SQL function as p_now_ms. Default Date.now. */
  clock?: () => number;
  /**
   * Long polling: an empty fetch waits up to its pollTimeoutMs for work, woken by LISTEN/NOTIFY
   * (one extra connection per provider, opened on first use). Default true. With false, fetches
   * return at once and the caller polls.
   */
  longPoll?: boolean;
}

/** Even with no notification, an idle long poll re-checks the store this often. */
const MAX_IDLE_WAIT_MS = 5_000;

export const PROVIDER_NAME = "pg-durable";
export const PROVIDER_VERSION = "0.1.0";

export class PostgresProvider implements Provider {
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly sql: SqlFunctions;
  private readonly ownsPool: boolean;
  private readonly admin: PostgresAdmin;
  private readonly wakeups: WakeupListener | null;

  private constructor(
    pool: pg.Pool,
    ownsPool: boolean,
    schema: string,
    clock: () => number,
    longPoll: boolean,
  ) {
    this.pool = pool;
    this.ownsPool = ownsPool;
    this.schema = schema;
    this.sql = new SqlFunctions(pool, schema, clock);
    this.admin = new PostgresAdmin(this.sql);
    // The listener connects like the pool does (pg keeps the pool's config in `options`).
    this.wakeups = longPoll ? new WakeupListener(pool.options as pg.ClientConfig, schema) : null;
  }

  /** Create a provider from a connection string or an existing pool, migrating on request. */
  static async create(options: PostgresProviderOptions): Promise<PostgresProvider> {
    const schema = options.schema ?? "public";
    quoteSchema(schema); // refuse a name Postgres would truncate before opening any connection
    let pool = options.pool;
    const ownsPool = pool === undefined;
    if (!pool) {
      if (!options.connectionString) throw new Error("PostgresProvider needs a pool or a connectionString");
      pool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
        ...(options.applicationName ? { application_name: options.applicationName } : {}),
      });
      // An idle pooled connection that dies (server restart, pg_terminate_backend) is an 'error'
      // event on the pool; unheard, Node would crash the process. The pool drops the client itself
      // and the next call reconnects, so there is nothing else to do.
      pool.on("error", () => {});
    }
    const provider = new PostgresProvider(
      pool,
      ownsPool,
      schema,
      options.clock ?? Date.now,
      options.longPoll ?? true,
    );
    if (options.migrate) await migrate(pool, schema);
    return provider;
  }

  /** Stop the wake-up listener, and close the pool if this provider created it. */
  async close(): Promise<void> {
    await this.wakeups?.close();
    if (this.ownsPool) await this.pool.end();
  }

  /** Make every fetch that is waiting for work return now (used at shutdown). */
  interruptWaits(): void {
    this.wakeups?.interruptWaits();
  }

  /**
   * Run `fetch`; while it finds nothing and pollTimeoutMs allows, sleep until woken (a
   * notification of `queue`, the next delayed row or lock expiry) and fetch again.
   */
  private async longPoll<T>(
    queue: WakeupQueue,
    pollTimeoutMs: number,
    fetch: () => Promise<T | null>,
  ): Promise<T | null> {
    const wakeups = this.wakeups;
    if (!wakeups || !(pollTimeoutMs > 0)) return await fetch();
    const deadline = Date.now() + pollTimeoutMs;
    const interruptions = wakeups.interruptionCount();
    for (;;) {
      const seen = wakeups.generation(queue);
      const found = await fetch();
      if (found !== null) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || wakeups.interruptionCount() !== interruptions) return null;
      const now = this.sql.now();
      const row = await this.sql.callOne<{ next_wakeup_at: number | null }>("long_poll", "next_wakeup_at", [
        queue,
        now,
      ]);
      const untilNext = row?.next_wakeup_at == null ? Number.POSITIVE_INFINITY : row.next_wakeup_at - now;
      await wakeups.waitForChange(queue, seen, Math.min(remaining, untilNext, MAX_IDLE_WAIT_MS));
    }
  }

  name(): string {
    return PROVIDER_NAME;
  }

  version(): string {
    return PROVIDER_VERSION;
  }

  // --- orchestrator queue + instance lock -------------------------------------------------------

  enqueueForOrchestrator(item: WorkItem, delayMs: number | null): Promise<void> {
    return orchestrations.enqueueForOrchestrator(this.sql, item, delayMs);
  }

  fetchOrchestrationItem(
    lockTimeoutMs: number,
    pollTimeoutMs: number,
    filter: DispatcherCapabilityFilter | null,
  ): Promise<FetchedOrchestrationItem | null> {
    if (filter && filter.supportedDuroxideVersions.length === 0) return Promise.resolve(null); // matches nothing
    return this.longPoll("orch", pollTimeoutMs, () =>
      orchestrations.fetchOrchestrationItem(this.sql, lockTimeoutMs, 0, filter),
    );
  }

  ackOrchestrationItem(
    lockToken: string,
    executionId: number,
    historyDelta: Event[],
    workerItems: WorkItem[],
    orchestratorItems: WorkItem[],
    metadata: ExecutionMetadata,
    cancelledActivities: ScheduledActivityIdentifier[],
  ): Promise<void> {
    return orchestrations.ackOrchestrationItem(this.sql, {
      lockToken,
      executionId,
      historyDelta,
      workerItems,
      orchestratorItems,
      metadata,
      cancelledActivities,
    });
  }

  abandonOrchestrationItem(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void> {
    return orchestrations.abandonOrchestrationItem(this.sql, lockToken, delayMs, ignoreAttempt);
  }

  renewOrchestrationItemLock(lockToken: string, extendForMs: number): Promise<void> {
    return orchestrations.renewOrchestrationItemLock(this.sql, lockToken, extendForMs);
  }

  // --- worker queue ------------------------------------------------------------------------------

  enqueueForWorker(item: WorkItem): Promise<void> {
    return workers.enqueueForWorker(this.sql, item);
  }

  fetchWorkItem(
    lockTimeoutMs: number,
    pollTimeoutMs: number,
    session: SessionFetchConfig | null,
    tagFilter: TagFilter,
  ): Promise<FetchedWorkItem | null> {
    if (tagFilter.kind === "none") return Promise.resolve(null); // an orchestrator-only node
    return this.longPoll("work", pollTimeoutMs, () =>
      workers.fetchWorkItem(this.sql, lockTimeoutMs, 0, session, tagFilter),
    );
  }

  ackWorkItem(lockToken: string, completion: WorkItem | null): Promise<void> {
    return workers.ackWorkItem(this.sql, lockToken, completion);
  }

  renewWorkItemLock(lockToken: string, extendForMs: number): Promise<void> {
    return workers.renewWorkItemLock(this.sql, lockToken, extendForMs);
  }

  abandonWorkItem(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void> {
    return workers.abandonWorkItem(this.sql, lockToken, delayMs, ignoreAttempt);
  }

  // --- sessions ----------------------------------------------------------------------------------

  renewSessionLock(ownerIds: readonly string[], extendForMs: number, idleTimeoutMs: number): Promise<number> {
    return workers.renewSessionLock(this.sql, ownerIds, extendForMs, idleTimeoutMs);
  }

  cleanupOrphanedSessions(idleTimeoutMs: number): Promise<number> {
    return workers.cleanupOrphanedSessions(this.sql, idleTimeoutMs);
  }

  // --- history -----------------------------------------------------------------------------------

  read(instance: string): Promise<Event[]> {
    return orchestrations.read(this.sql, instance);
  }

  readWithExecution(instance: string, executionId: number): Promise<Event[]> {
    return orchestrations.readWithExecution(this.sql, instance, executionId);
  }

  appendWithExecution(instance: string, executionId: number, events: Event[]): Promise<void> {
    return orchestrations.appendWithExecution(this.sql, instance, executionId, events);
  }

  // --- lightweight reads ---------------------------------------------------------------------------

  getCustomStatus(instance: string, lastSeenVersion: number): Promise<CustomStatusChange | null> {
    return orchestrations.getCustomStatus(this.sql, instance, lastSeenVersion);
  }

  getKvValue(instance: string, key: string): Promise<string | null> {
    return orchestrations.getKvValue(this.sql, instance, key);
  }

  getKvAllValues(instance: string): Promise<Map<string, string>> {
    return orchestrations.getKvAllValues(this.sql, instance);
  }

  getInstanceStats(instance: string): Promise<SystemStats | null> {
    return this.admin.getInstanceStats(instance);
  }

  asManagementCapability(): ProviderAdmin {
    return this.admin;
  }
}
