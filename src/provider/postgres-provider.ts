/**
 * PostgresProvider: the Provider / ProviderAdmin contract on Postgres.
 *
 * Reads like a table of contents: each method is one call of one PL/pgSQL function (see
 * migrations/ and docs/schema.sql), implemented in the module that owns that part of the store:
 *   orchestration-store.ts  orchestrator queue, instance locks, history, custom status, KV reads
 *   worker-queue.ts         worker queue and sessions
 *   admin.ts                ProviderAdmin (listings, info, metrics, deletion, pruning) and stats
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { migrate, quoteSchema } from "../migrate/migrations.ts";
import { consoleLogger, type Logger } from "../runtime/logger.ts";
import { PostgresAdmin } from "./admin.ts";
import { toProviderError } from "./errors.ts";
import * as orchestrations from "./orchestration-store.ts";
import { PostgresWakeups } from "./postgres-wakeups.ts";
import { checkConnection, checkSchema } from "./schema-check.ts";
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
  WorkFetch,
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
  /**
   * A direct (or PgBouncer session-mode) connection string for the wake-up listener's LISTEN
   * connection alone, when `connectionString` or `pool` goes through a pooler in transaction mode
   * where LISTEN does not work (see docs/pgbouncer.md). Default: connect like the pool.
   */
  listenConnectionString?: string;
  /** Size of the pool created from `connectionString`. Default 10. */
  poolSize?: number;
  /**
   * How long opening a connection may take, and how long a call waits for a free connection of
   * the pool created from `connectionString`, before failing (retryably, once started). Also
   * bounds the start-up check on a pool passed in. Default 10 000 ms (pg's own default waits
   * forever, even on a server that accepts TCP and never answers).
   */
  connectionTimeoutMs?: number;
  /** `application_name` of the pool's connections, so operators can find them in pg_stat_activity. */
  applicationName?: string;
  /** Apply pending migrations to the schema before returning. Default false. */
  migrate?: boolean;
  /**
   * Check at create() and Runtime.start() that the server answers, the credentials work and the
   * schema has every migration this package ships (one call of applied_migration_versions()),
   * failing with a StoreNotReadyError otherwise; a schema ahead of the package is only warned
   * about. Default true. Turn off only to work on a schema being migrated on purpose.
   */
  checkSchema?: boolean;
  /** Where the provider's warnings go (LISTEN unavailable, schema ahead). Default: the console. */
  logger?: Pick<Logger, "warn">;
  /** The clock passed to every SQL function as p_now_ms. Default Date.now. */
  clock?: () => number;
  /**
   * Wake-ups (`provider.wakeups`, docs/architecture.md "Wake-ups"): idle dispatcher slots wait for
   * LISTEN/NOTIFY (one extra connection per provider, opened on first use), and an empty fetch
   * with a pollTimeoutMs waits up to that long for work. Default true. With false the provider has
   * no wake-ups: fetches return at once, runtimes poll every dispatcherMinPollIntervalMs and
   * clients re-read with a backoff.
   */
  longPoll?: boolean;
}

/** SQLSTATE undefined_function: the schema predates a function this package calls. */
const UNDEFINED_FUNCTION = "42883";
/** How long the provider uses separate calls after the schema lacked a combined one. */
const COMBINED_CALL_RECHECK_MS = 30_000;

/** A long poll whose clock moves this far against the monotonic clock returns to its caller. */
const CLOCK_STEP_MS = 50;

export const PROVIDER_NAME = "pg-durable";
export const PROVIDER_VERSION = "0.1.0";

export class PostgresProvider implements Provider {
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly sql: SqlFunctions;
  private readonly ownsPool: boolean;
  private readonly admin: PostgresAdmin;
  private readonly listener: WakeupListener | null;
  /** How idle dispatcher slots and waiting clients are woken; undefined with `longPoll: false`. */
  readonly wakeups: PostgresWakeups | undefined;
  private readonly logger: Pick<Logger, "warn">;
  private readonly checksSchema: boolean;
  private readonly connectionTimeoutMs: number;

  private constructor(pool: pg.Pool, ownsPool: boolean, schema: string, options: PostgresProviderOptions) {
    this.pool = pool;
    this.ownsPool = ownsPool;
    this.schema = schema;
    this.logger = options.logger ?? consoleLogger("info");
    this.checksSchema = options.checkSchema ?? true;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? 10_000;
    this.sql = new SqlFunctions(pool, schema, options.clock ?? Date.now);
    this.admin = new PostgresAdmin(this.sql);
    // The listener connects like the pool does (pg keeps the pool's config in `options`), unless
    // it has a connection of its own.
    const listenConfig: pg.ClientConfig = options.listenConnectionString
      ? {
          connectionString: options.listenConnectionString,
          connectionTimeoutMillis: this.connectionTimeoutMs,
          ...(options.applicationName ? { application_name: options.applicationName } : {}),
        }
      : (pool.options as pg.ClientConfig);
    this.listener =
      (options.longPoll ?? true)
        ? new WakeupListener(listenConfig, schema, (message) => this.logger.warn(message))
        : null;
    this.wakeups = this.listener
      ? new PostgresWakeups(this.listener, (queue) => this.untilNextWakeup(queue))
      : undefined;
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
        // Idle connections do not keep the process alive: a program that has shut its runtime
        // down exits without close() (which stays the way to end them at once).
        allowExitOnIdle: true,
        ...(options.applicationName ? { application_name: options.applicationName } : {}),
      });
      // An idle pooled connection that dies (server restart, pg_terminate_backend) is an 'error'
      // event on the pool; unheard, Node would crash the process. The pool drops the client itself
      // and the next call reconnects, so there is nothing else to do.
      pool.on("error", () => {});
      // The pool stops listening to a client once it removes it (pool.end() resolves before the
      // sockets close): a server that terminates the connection in that window would raise an
      // unheard 'error' on the client and crash the process. Every client keeps a listener.
      pool.on("connect", (client) => client.on("error", () => {}));
    }
    const provider = new PostgresProvider(pool, ownsPool, schema, options);
    try {
      if (options.migrate) await migrate(pool, schema);
      await provider.checkReady();
    } catch (error) {
      // Fail fast and leave nothing open behind (a script would otherwise hang on the pool).
      await provider.close().catch(() => {});
      throw error;
    }
    return provider;
  }

  /**
   * Fail fast with a StoreNotReadyError when the server cannot be reached or logged in to, or the
   * schema is missing or behind this package (unless `checkSchema: false`, which still checks the
   * connection). Called by create() and by Runtime.start().
   */
  async checkReady(): Promise<void> {
    if (!this.checksSchema) {
      const client = await checkConnection(this.pool, this.connectionTimeoutMs);
      client.release();
      return;
    }
    const { ahead } = await checkSchema(this.pool, this.schema, this.connectionTimeoutMs);
    if (ahead.length > 0 && !this.warnedAhead) {
      this.warnedAhead = true;
      this.logger.warn(
        `schema ${this.schema} has migrations this package (${PROVIDER_NAME} ${PROVIDER_VERSION}) does not ` +
          `ship (${ahead.join(", ")}): it was migrated by a newer release; upgrade this one`,
      );
    }
  }

  private warnedAhead = false;

  /** Stop the wake-up listener, and close the pool if this provider created it. */
  async close(): Promise<void> {
    // The listener's socket and the pool's idle sockets are unref'd: while they say goodbye nothing
    // else may hold the event loop, and Node would exit with this promise unsettled (exit code 13).
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      await this.listener?.close();
      if (this.ownsPool) await this.pool.end();
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * How idle fetches learn of new work: "listen" (LISTEN/NOTIFY), "polling" (LISTEN is unavailable
   * on this connection, e.g. PgBouncer in transaction mode), "connecting" (not known yet; the
   * listener connects on the first long poll), or "off" (longPoll: false).
   */
  wakeupMode(): "off" | "connecting" | "listen" | "polling" {
    return this.listener?.mode() ?? "off";
  }

  /**
   * "named" (prepared once per connection) until a pooler in transaction mode refused a named
   * statement; "unnamed" from then on (see sql.ts).
   */
  statementMode(): "named" | "unnamed" {
    return this.sql.usesNamedStatements ? "named" : "unnamed";
  }

  /**
   * Make every fetch that is long-polling (pollTimeoutMs) return now. The runtime does not need
   * it: its slots wait through `wakeups` with the shutdown's abort signal.
   */
  interruptWaits(): void {
    this.listener?.interruptWaits();
  }

  /**
   * Run `fetch`; while it finds nothing and pollTimeoutMs allows, wait as an idle dispatcher slot
   * does (`wakeups`: a notification of work `what` can take, the next delayed row or lock expiry)
   * and fetch again.
   */
  private async longPoll<T>(
    what: WorkFetch,
    pollTimeoutMs: number,
    fetch: () => Promise<T | null>,
  ): Promise<T | null> {
    const listener = this.listener;
    if (!listener || !this.wakeups || !(pollTimeoutMs > 0)) return await fetch();
    const deadline = Date.now() + pollTimeoutMs;
    const interruptions = listener.interruptionCount();
    const clockOffset = this.sql.now() - performance.now();
    const waiter = this.wakeups.workWaiter();
    for (;;) {
      // The caller checked its clock before this call: if the clock stepped since, let it check
      // again rather than judge locks with the stepped clock (docs/clocks.md).
      if (Math.abs(this.sql.now() - performance.now() - clockOffset) > CLOCK_STEP_MS) {
        waiter.release();
        return null;
      }
      const found = await waiter.fetch(what, fetch);
      if (found !== null) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || listener.interruptionCount() !== interruptions) return null;
      await waiter.wait(remaining);
    }
  }

  /** Milliseconds until `queue`'s next delayed row or lock expiry (+Infinity: none pending). */
  private async untilNextWakeup(queue: WakeupQueue): Promise<number> {
    const now = this.sql.now();
    const row = await this.sql.callOne<{ next_wakeup_at: number | null }>("long_poll", "next_wakeup_at", [
      queue,
      now,
    ]);
    return row?.next_wakeup_at == null ? Number.POSITIVE_INFINITY : row.next_wakeup_at - now;
  }

  name(): string {
    return PROVIDER_NAME;
  }

  version(): string {
    return PROVIDER_VERSION;
  }

  // --- orchestrator queue + instance lock -------------------------------------------------------

  async enqueueForOrchestrator(item: WorkItem, delayMs: number | null): Promise<void> {
    await orchestrations.enqueueForOrchestrator(this.sql, item, delayMs);
    if (!delayMs) this.listener?.enqueuedLocally("orch");
  }

  fetchOrchestrationItem(
    lockTimeoutMs: number,
    pollTimeoutMs: number,
    filter: DispatcherCapabilityFilter | null,
  ): Promise<FetchedOrchestrationItem | null> {
    if (filter && filter.supportedDuroxideVersions.length === 0) return Promise.resolve(null); // matches nothing
    return this.longPoll({ queue: "orchestrator", filter }, pollTimeoutMs, async () => {
      // With wake-ups, an empty fetch also reads the next wake-up its wait needs (no second query).
      if (this.wakeups && this.orchestratorCombinedCallsMayExist()) {
        const sentAt = performance.now();
        try {
          return this.learnNextWakeup(
            sentAt,
            await orchestrations.fetchOrchestrationItemOrWakeup(this.sql, lockTimeoutMs, filter),
          );
        } catch (error) {
          if (!this.orchestratorCombinedCallMissing(error)) throw error;
        }
      }
      return await orchestrations.fetchOrchestrationItem(this.sql, lockTimeoutMs, 0, filter);
    });
  }

  /**
   * A schema not migrated to 0024 yet (a runtime upgraded ahead of its schema) lacks
   * fetch_orchestration_item_or_wakeup and ack_and_fetch_orchestration_item: until this moment
   * (Date.now()) the provider makes the separate calls instead, then tries again.
   */
  private orchestratorCombinedMissingUntil = 0;

  private orchestratorCombinedCallsMayExist(): boolean {
    return Date.now() >= this.orchestratorCombinedMissingUntil;
  }

  /** Whether `error` says the schema lacks the called function (nothing ran: safe to fall back). */
  private orchestratorCombinedCallMissing(error: unknown): boolean {
    const cause = error instanceof Error ? error.cause : undefined;
    if ((cause as { code?: unknown } | undefined)?.code !== UNDEFINED_FUNCTION) return false;
    this.orchestratorCombinedMissingUntil = Date.now() + COMBINED_CALL_RECHECK_MS;
    return true;
  }

  /** Tell the waiters what an empty orchestrator fetch sent at `sentAt` read; return its item. */
  private learnNextWakeup(
    sentAt: number,
    outcome: orchestrations.FetchOutcome,
  ): FetchedOrchestrationItem | null {
    const wakeup = outcome.wakeup;
    if (wakeup && this.wakeups) {
      const untilMs = wakeup.nextAtMs === null ? Number.POSITIVE_INFINITY : wakeup.nextAtMs - wakeup.nowMs;
      this.wakeups.learned.learned("orch", sentAt, untilMs);
    }
    return outcome.fetched;
  }

  async ackOrchestrationItem(
    lockToken: string,
    executionId: number,
    historyDelta: Event[],
    workerItems: WorkItem[],
    orchestratorItems: WorkItem[],
    metadata: ExecutionMetadata,
    cancelledActivities: ScheduledActivityIdentifier[],
  ): Promise<void> {
    await orchestrations.ackOrchestrationItem(this.sql, {
      lockToken,
      executionId,
      historyDelta,
      workerItems,
      orchestratorItems,
      metadata,
      cancelledActivities,
    });
    this.orchestrationAcked(historyDelta, workerItems, orchestratorItems, metadata);
  }

  /** ackOrchestrationItem, then fetchOrchestrationItem's short poll, in one call (one transaction). */
  async ackOrchestrationItemAndFetchNext(
    lockToken: string,
    executionId: number,
    historyDelta: Event[],
    workerItems: WorkItem[],
    orchestratorItems: WorkItem[],
    metadata: ExecutionMetadata,
    cancelledActivities: ScheduledActivityIdentifier[],
    lockTimeoutMs: number,
    filter: DispatcherCapabilityFilter | null,
  ): Promise<FetchedOrchestrationItem | null> {
    const ack = {
      lockToken,
      executionId,
      historyDelta,
      workerItems,
      orchestratorItems,
      metadata,
      cancelledActivities,
    };
    if (this.orchestratorCombinedCallsMayExist()) {
      const sentAt = performance.now();
      try {
        const outcome = await orchestrations.ackOrchestrationItemAndFetchNext(
          this.sql,
          ack,
          lockTimeoutMs,
          filter,
        );
        this.orchestrationAcked(historyDelta, workerItems, orchestratorItems, metadata);
        return this.learnNextWakeup(sentAt, outcome);
      } catch (error) {
        if (!this.orchestratorCombinedCallMissing(error)) throw error;
      }
    }
    // The schema lacks the combined call: the same ack, then a fetch, separately.
    await orchestrations.ackOrchestrationItem(this.sql, ack);
    this.orchestrationAcked(historyDelta, workerItems, orchestratorItems, metadata);
    try {
      return await orchestrations.fetchOrchestrationItem(this.sql, lockTimeoutMs, 0, filter);
    } catch (error) {
      // The turn is committed: a failed fetch must not look like a failed ack. The slot fetches
      // again after its wait.
      this.logger.warn(
        `fetch after an ack failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return null;
    }
  }

  /** After an ack: local wake-ups for what it enqueued, and for clients waiting on the instance. */
  private orchestrationAcked(
    historyDelta: Event[],
    workerItems: WorkItem[],
    orchestratorItems: WorkItem[],
    metadata: ExecutionMetadata,
  ): void {
    if (workerItems.length > 0) this.listener?.enqueuedLocally("work");
    if (orchestratorItems.length > 0) this.listener?.enqueuedLocally("orch");
    // A client of this provider object waiting on the instance re-reads it now.
    const instance = historyDelta[0]?.instance_id;
    if (instance !== undefined && changesWhatClientsWaitFor(historyDelta, metadata)) {
      this.wakeups?.instanceChanged(instance);
    }
  }

  abandonOrchestrationItem(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void> {
    return orchestrations.abandonOrchestrationItem(this.sql, lockToken, delayMs, ignoreAttempt);
  }

  renewOrchestrationItemLock(lockToken: string, extendForMs: number): Promise<void> {
    return orchestrations.renewOrchestrationItemLock(this.sql, lockToken, extendForMs);
  }

  // --- worker queue ------------------------------------------------------------------------------

  async enqueueForWorker(item: WorkItem): Promise<void> {
    await workers.enqueueForWorker(this.sql, item);
    this.listener?.enqueuedLocally("work");
  }

  fetchWorkItem(
    lockTimeoutMs: number,
    pollTimeoutMs: number,
    session: SessionFetchConfig | null,
    tagFilter: TagFilter,
  ): Promise<FetchedWorkItem | null> {
    if (tagFilter.kind === "none") return Promise.resolve(null); // an orchestrator-only node
    return this.longPoll({ queue: "worker", session, tagFilter }, pollTimeoutMs, async () => {
      const found = await workers.fetchWorkItem(this.sql, lockTimeoutMs, 0, session, tagFilter);
      this.noteSessionFetched(found, session);
      return found;
    });
  }

  /** Remember who claimed a session, so a wake-up for it is passed on to that fetch (wakeups.ts). */
  private noteSessionFetched(found: FetchedWorkItem | null, session: SessionFetchConfig | null): void {
    const claimed =
      found && "ActivityExecute" in found.item ? found.item.ActivityExecute.session_id : undefined;
    if (claimed && session) this.listener?.sessionFetched(claimed, session.ownerId);
  }

  async ackWorkItem(lockToken: string, completion: WorkItem | null): Promise<void> {
    await workers.ackWorkItem(this.sql, lockToken, completion);
    if (completion) this.listener?.enqueuedLocally("orch");
  }

  async ackWorkItemAndFetchNext(
    lockToken: string,
    completion: WorkItem | null,
    lockTimeoutMs: number,
    session: SessionFetchConfig | null,
    tagFilter: TagFilter,
  ): Promise<FetchedWorkItem | null> {
    const found = await workers.ackWorkItemAndFetchNext(
      this.sql,
      lockToken,
      completion,
      lockTimeoutMs,
      session,
      tagFilter,
    );
    if (completion) this.listener?.enqueuedLocally("orch");
    this.noteSessionFetched(found, session);
    return found;
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

  // --- clocks --------------------------------------------------------------------------------------

  /** The clock passed to every SQL function as p_now_ms. */
  now(): number {
    return this.sql.now();
  }

  /** The server's clock_timestamp() in epoch ms (fractional), for measuring this process's skew. */
  async databaseTimeMs(): Promise<number> {
    try {
      const result = await this.pool.query<{ now_ms: number }>({
        text: "SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now_ms",
      });
      return Number(result.rows[0]!.now_ms);
    } catch (error) {
      throw toProviderError("databaseTimeMs", error);
    }
  }
}

/** Whether an ack changes what Client waits for: the status, the custom status or a KV value. */
function changesWhatClientsWaitFor(delta: readonly Event[], metadata: ExecutionMetadata): boolean {
  if (metadata.status) return true;
  return delta.some(
    (e) =>
      e.type === "CustomStatusUpdated" ||
      e.type === "KeyValueSet" ||
      e.type === "KeyValueCleared" ||
      e.type === "KeyValuesCleared",
  );
}
