/**
 * The runtime's logging seam: a minimal leveled logger. The default writes to the console at
 * "info" and above; pass `logger` (anything with these four methods, e.g. pino) or `logLevel`.
 */
import type { LogLevel } from "./orchestration-context.ts";
import { formatLogLine, type LineStyle, tracingFile, writeTracingLine } from "./tracing.ts";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * The default logger. `style` sets the line format and service name (runtime options logFormat,
 * serviceName, serviceVersion); once initTracing() has installed a tracing file, lines go there,
 * at that file's level and format, instead of to the console.
 */
export function consoleLogger(level: LogLevel | "silent" = "info", style: LineStyle = {}): Logger {
  const min = RANK[level];
  const at =
    (l: LogLevel, sink: (message: string) => void) =>
    (message: string): void => {
      const file = tracingFile();
      if (file) {
        if (RANK[l] >= RANK[file.level])
          writeTracingLine(formatLogLine(l, message, { ...style, format: file.format }));
      } else if (RANK[l] >= min) sink(formatLogLine(l, message, style));
    };
  return {
    debug: at("debug", console.debug),
    info: at("info", console.info),
    warn: at("warn", console.warn),
    error: at("error", console.error),
  };
}
