/**
 * The clock guard: a runtime judges leases and timers with its own clock (every store call takes
 * p_now_ms from it), so that clock must agree with everyone else's. We cannot see the other
 * runtimes' clocks, but we can see the database's: if every runtime stays within `boundMs` of it,
 * any two differ by at most 2·bound, which the default keeps inside the renewal margin of the
 * shortest lease (docs/clocks.md).
 *
 * The guard measures the skew (local clock − database clock, from the best of a few round trips)
 * at start, every `intervalMs`, sooner after a failure or while refusing, and at once when the
 * local clock steps against the monotonic one (an NTP step, a VM resumed, a changed date). While
 * the skew exceeds the bound, or before the first measurement, the dispatchers take, extend and
 * judge no leases; the change is logged once each way.
 */
import { performance } from "node:perf_hooks";
import type { Provider } from "../provider/types.ts";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./logger.ts";

/** Round trips per measurement; the one with the shortest round trip is kept (least uncertain). */
const SAMPLES = 3;
/** Re-measure this often while refusing, unmeasured or after a failed measurement. */
const RETRY_MS = 250;

export interface ClockReading {
  /** Local clock − database clock, in ms: positive when this runtime's clock is ahead. */
  skewMs: number;
  /** Half the round trip of the sample kept: the true skew is within skewMs ± uncertaintyMs. */
  uncertaintyMs: number;
}

export interface ClockStatus {
  /** The last measured skew (local − database, ms; positive = ahead), or null before any. */
  skewMs: number | null;
  uncertaintyMs: number | null;
  /** The largest |skew| at which this runtime takes leases. */
  boundMs: number;
  /** True when the last measurement is within the bound (and the clock has not stepped since). */
  agrees: boolean;
  /** False when the provider cannot tell its database's time: the guard then never refuses. */
  measurable: boolean;
  /** Local time (runtime clock) of the last successful measurement, or null. */
  measuredAtMs: number | null;
}

/**
 * Measure how far `clock` is from the database's clock: the local send/receive times bracket the
 * database's reading, which is compared with their midpoint. Returns null when the provider cannot
 * read its database's time. This is what `pg-durable doctor` calls.
 */
export async function measureClockSkew(
  provider: Pick<Provider, "databaseTimeMs">,
  clock: () => number = Date.now,
  samples = SAMPLES,
): Promise<ClockReading | null> {
  if (!provider.databaseTimeMs) return null;
  let best: ClockReading | null = null;
  for (let i = 0; i < samples; i++) {
    const sent = clock();
    const databaseMs = await provider.databaseTimeMs();
    const received = clock();
    const reading = { skewMs: (sent + received) / 2 - databaseMs, uncertaintyMs: (received - sent) / 2 };
    if (!best || reading.uncertaintyMs < best.uncertaintyMs) best = reading;
  }
  return best;
}

/**
 * The default bound: a quarter of the smallest renewal margin (lock timeout − renewal interval,
 * the time a renewed lock still has left). Two runtimes each within the bound on opposite sides
 * differ by half that margin; the other half absorbs renewal latency. With the default locks
 * (orchestration 5 s renewed every 2.5 s, activities and sessions 30 s renewed every 25 s) this is
 * 625 ms; NTP keeps clocks within a few ms.
 */
export function defaultMaxClockSkewMs(renewalMarginsMs: readonly number[]): number {
  return Math.max(1, Math.floor(Math.min(...renewalMarginsMs) / 4));
}

export interface ClockGuardDeps {
  provider: Provider;
  clock: () => number;
  boundMs: number;
  intervalMs: number;
  logger: Logger;
  /** Called with every new status (the runtime copies it into its metrics). */
  onStatus: (status: ClockStatus) => void;
}

export class ClockGuard {
  private reading: ClockReading | null = null;
  private measuredAtMs: number | null = null;
  private withinBound = false;
  /** Local clock − monotonic clock at the last measurement: a change means the clock stepped. */
  private offsetAtMeasurement = 0;
  private refusingLogged = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private measuring: Promise<void> | null = null;
  private readonly changed = new Set<() => void>();

  constructor(private readonly deps: ClockGuardDeps) {}

  get measurable(): boolean {
    return this.deps.provider.databaseTimeMs !== undefined;
  }

  /** Whether leases may be taken, extended or judged now. */
  get agrees(): boolean {
    if (!this.measurable) return true;
    if (!this.withinBound) return false;
    if (this.stepped()) {
      // The clock moved against the monotonic one since it was measured: judge nothing until
      // it is measured again.
      this.withinBound = false;
      this.recheck();
      return false;
    }
    return true;
  }

  status(): ClockStatus {
    return {
      skewMs: this.reading?.skewMs ?? null,
      uncertaintyMs: this.reading?.uncertaintyMs ?? null,
      boundMs: this.deps.boundMs,
      agrees: this.agrees,
      measurable: this.measurable,
      measuredAtMs: this.measuredAtMs,
    };
  }

  start(): void {
    if (!this.measurable) {
      this.deps.onStatus(this.status());
      return;
    }
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake();
  }

  /** Measure again soon (after a failure that a skewed clock could explain, or a clock step). */
  recheck(): void {
    if (this.measurable && !this.stopped && !this.measuring) this.schedule(0);
  }

  /**
   * Resolve true once the clock agrees (at once if it does), false when `signal` aborts first or
   * `maxWaitMs` passes.
   */
  async waitUntilAgreed(signal: AbortSignal, maxWaitMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const giveUpAt = performance.now() + maxWaitMs;
    while (!this.agrees) {
      const left = giveUpAt - performance.now();
      if (signal.aborted || this.stopped || left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.changed.delete(done);
          signal.removeEventListener("abort", done);
          clearTimeout(timer);
          resolve();
        };
        // Woken by a new measurement; the timeout also notices a clock step or the deadline.
        const timer = setTimeout(done, Math.min(left, RETRY_MS));
        this.changed.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
    return true;
  }

  private stepped(): boolean {
    const drift = this.deps.clock() - performance.now() - this.offsetAtMeasurement;
    return Math.abs(drift) > this.deps.boundMs / 2;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.measuring = this.measure().finally(() => {
        this.measuring = null;
      });
    }, delayMs);
    this.timer.unref?.();
  }

  private async measure(): Promise<void> {
    const { clock, boundMs, logger } = this.deps;
    let next = this.deps.intervalMs;
    try {
      const offset = clock() - performance.now();
      const reading = await measureClockSkew(this.deps.provider, clock);
      if (!reading || this.stopped) return;
      this.reading = reading;
      this.measuredAtMs = clock();
      this.offsetAtMeasurement = offset;
      // Refuse only when the skew is beyond the bound even at the near end of the reading's
      // uncertainty: a slow round trip (a loaded server) then widens what is accepted rather than
      // making a runtime with a correct clock refuse work. A real skew of seconds is still caught
      // with round trips of up to seconds.
      this.withinBound = Math.abs(reading.skewMs) - reading.uncertaintyMs <= boundMs;
      this.report();
      if (!this.withinBound) next = Math.min(next, RETRY_MS);
    } catch (error) {
      // The database is unreachable: fetches fail too. Keep the verdict and try again soon.
      logger.debug(`clock check failed: ${errorMessage(error)}`);
      next = Math.min(next, RETRY_MS);
    } finally {
      this.schedule(next);
      this.wake();
    }
  }

  private report(): void {
    const { boundMs, logger } = this.deps;
    const reading = this.reading!;
    const skew = `${formatSkew(reading.skewMs)} (±${Math.ceil(reading.uncertaintyMs)}ms)`;
    if (!this.withinBound && !this.refusingLogged) {
      this.refusingLogged = true;
      logger.error(
        `clock skew: this runtime's clock is ${skew} off the database's, beyond the bound of ` +
          `${boundMs}ms (maxClockSkewMs); it takes, renews and judges no leases until its clock agrees again`,
      );
    } else if (this.withinBound && this.refusingLogged) {
      this.refusingLogged = false;
      logger.info(`clock agrees with the database again: skew ${skew}, bound ${boundMs}ms; taking leases`);
    }
    this.deps.onStatus(this.status());
  }

  private wake(): void {
    for (const done of [...this.changed]) done();
  }
}

/** "+30012ms (ahead)" / "-29988ms (behind)". */
function formatSkew(skewMs: number): string {
  const ms = Math.round(skewMs);
  return `${ms >= 0 ? "+" : ""}${ms}ms (${ms >= 0 ? "ahead" : "behind"})`;
}
