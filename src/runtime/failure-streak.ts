/**
 * Logging a run of consecutive failures of one call: the first failure is a warning, the retries
 * that follow are debug lines, and the first success says how long the outage lasted. During a
 * server restart a dispatcher slot retries many times; one warning and one recovery line tell an
 * operator what happened without burying everything else.
 */
import { errorMessage } from "./errors.ts";
import type { Logger } from "./logger.ts";

export class FailureStreak {
  private failures = 0;
  private since = 0;

  constructor(
    private readonly call: string,
    private readonly logger: Logger,
  ) {}

  failed(error: unknown, retryInMs: number): void {
    if (this.failures++ === 0) {
      this.since = Date.now();
      this.logger.warn(
        `${this.call} failed (retrying from ${retryInMs}ms, with backoff): ${errorMessage(error)}`,
      );
    } else {
      this.logger.debug(`${this.call} failed again (${this.failures} in a row): ${errorMessage(error)}`);
    }
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.logger.info(
      `${this.call} recovered after ${this.failures} failed attempt(s) over ${Date.now() - this.since}ms`,
    );
    this.failures = 0;
  }
}
