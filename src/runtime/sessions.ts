/**
 * Session bookkeeping of one runtime: how many distinct sessions its worker slots serve right now
 * (capped by maxSessionsPerRuntime), and the background lease renewal and orphan cleanup.
 */
import type { Provider } from "../provider/types.ts";
import { errorMessage } from "./errors.ts";
import { type ResolvedOptions, renewalIntervalMs } from "./options.ts";

export class SessionTracker {
  private readonly inFlight = new Map<string, number>();

  get distinct(): number {
    return this.inFlight.size;
  }

  /** Count an item of `sessionId` in flight; false when that takes the runtime over its cap. */
  acquire(sessionId: string, max: number): boolean {
    this.inFlight.set(sessionId, (this.inFlight.get(sessionId) ?? 0) + 1);
    return this.inFlight.size <= max;
  }

  release(sessionId: string): void {
    const n = (this.inFlight.get(sessionId) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(sessionId);
    else this.inFlight.set(sessionId, n);
  }
}

/** Renews this runtime's session leases and cleans up orphaned sessions until stopped. */
export class SessionMaintenance {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly provider: Provider,
    private readonly options: ResolvedOptions,
    private readonly ownerIds: readonly string[],
  ) {}

  start(): void {
    const { options, provider } = this;
    const renew = setInterval(
      () => {
        provider
          .renewSessionLock(this.ownerIds, options.sessionLockTimeoutMs, options.sessionIdleTimeoutMs)
          .catch((e) => options.logger.warn(`renewSessionLock failed: ${errorMessage(e)}`));
      },
      renewalIntervalMs(options.sessionLockTimeoutMs, options.sessionLockRenewalBufferMs),
    );
    const cleanup = setInterval(() => {
      provider
        .cleanupOrphanedSessions(options.sessionIdleTimeoutMs)
        .catch((e) => options.logger.warn(`cleanupOrphanedSessions failed: ${errorMessage(e)}`));
    }, options.sessionCleanupIntervalMs);
    for (const t of [renew, cleanup]) {
      t.unref?.();
      this.timers.push(t);
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
