/**
 * The runtime's logging seam: a minimal leveled logger. The default writes to the console at
 * "info" and above; pass `logger` or `logLevel`.
 *
 * Each call is `(message, fields?)`: winston's `logger.info(message, meta)` shape, so a winston
 * logger (or `console`) is accepted as is, and a logger whose methods take only the message keeps
 * working (it just ignores the fields). pino and bunyan take the fields first: wrap them with
 * `fieldsFirst(pinoLogger)` (docs/observability.md "Structured logs").
 */
import type { LogLevel } from "./orchestration-context.ts";
import { formatLogLine, type LineStyle, tracingFile, writeTracingLine } from "./tracing.ts";

/**
 * What a line is about, as separate fields (the JSON format writes them as keys): instanceId,
 * executionId, orchestrationName, orchestrationVersion, activityId, activityName, …
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger whose methods take the fields first, as pino and bunyan do: `info(obj, msg)`. */
export interface FieldsFirstLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Adapt a pino/bunyan-style logger: `new Runtime(provider, { logger: fieldsFirst(pino()) })`. */
export function fieldsFirst(target: FieldsFirstLogger): Logger {
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void =>
      target[level]({ ...fields }, message);
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * The default logger. `style` sets the line format and service name (runtime options logFormat,
 * serviceName, serviceVersion); once initTracing() has installed a tracing file, lines go there,
 * at that file's level and format, instead of to the console. Fields appear in the JSON format.
 */
export function consoleLogger(level: LogLevel | "silent" = "info", style: LineStyle = {}): Logger {
  const min = RANK[level];
  const at =
    (l: LogLevel, sink: (message: string) => void) =>
    (message: string, fields?: LogFields): void => {
      const file = tracingFile();
      if (file) {
        if (RANK[l] >= RANK[file.level])
          writeTracingLine(formatLogLine(l, message, { ...style, format: file.format }, new Date(), fields));
      } else if (RANK[l] >= min) sink(formatLogLine(l, message, style, new Date(), fields));
    };
  return {
    debug: at("debug", console.debug),
    info: at("info", console.info),
    warn: at("warn", console.warn),
    error: at("error", console.error),
  };
}
