/**
 * The runtime's logging seam: a minimal leveled logger. The default writes to the console at
 * "info" and above; pass `logger` (anything with these four methods, e.g. pino) or `logLevel`.
 */
import type { LogLevel } from "./orchestration-context.ts";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function consoleLogger(level: LogLevel | "silent" = "info"): Logger {
  const min = RANK[level];
  const at =
    (l: LogLevel, sink: (message: string) => void) =>
    (message: string): void => {
      if (RANK[l] >= min) sink(`[pg-durable] ${l.toUpperCase()} ${message}`);
    };
  return {
    debug: at("debug", console.debug),
    info: at("info", console.info),
    warn: at("warn", console.warn),
    error: at("error", console.error),
  };
}
