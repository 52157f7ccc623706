/**
 * Where the runtime's default loggers write and how a line looks.
 *
 * By default each runtime logs to the console at its own `logLevel`. `initTracing({ logFile })`
 * (duroxide-node's call) sends the lines of every default logger in this process to one file,
 * appended, at one level and format — like installing a global tracing subscriber: it can be done
 * once per process, and a second call fails with "Failed to init tracing". Runtimes given their
 * own `logger` are not affected.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { LogLevel } from "./orchestration-context.ts";

/** "compact": one line; "pretty": header line + indented message; "json": one JSON object a line. */
export type LogFormat = "compact" | "pretty" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["compact", "pretty", "json"];

/** Accepted level names: ours, plus tracing's "trace" (= debug) and "off" (= silent). */
export type LogLevelName = LogLevel | "silent" | "trace" | "off";

export interface TracingOptions {
  /** File the lines are appended to (created with its directory if missing). */
  logFile: string;
  /** Default "info". */
  logLevel?: LogLevelName | string;
  /** Default "compact". */
  logFormat?: LogFormat | string;
}

export interface LineStyle {
  /** Unset: the console's short form `[service] LEVEL message`. */
  format?: LogFormat;
  /** Default "pg-durable". */
  serviceName?: string;
  serviceVersion?: string;
}

interface FileSink {
  fd: number;
  level: LogLevel | "silent";
  format: LogFormat;
}

let sink: FileSink | null = null;

/** Send every default logger of this process to `logFile`. Throws if called twice or on a bad path. */
export function initTracing(options: TracingOptions): void {
  if (sink) throw new Error("Failed to init tracing: a tracing file is already installed in this process");
  if (!options || typeof options.logFile !== "string" || options.logFile === "") {
    throw new TypeError("initTracing needs { logFile: string }");
  }
  const level = parseLogLevel(options.logLevel ?? "info", "initTracing logLevel");
  const format = parseLogFormat(options.logFormat ?? "compact", "initTracing logFormat");
  let fd: number;
  try {
    mkdirSync(dirname(options.logFile), { recursive: true });
    fd = openSync(options.logFile, "a");
  } catch (error) {
    throw new Error(`Failed to open log file '${options.logFile}': ${(error as Error).message}`);
  }
  sink = { fd, level, format };
}

/** The installed tracing file, if any. */
export function tracingFile(): Readonly<FileSink> | null {
  return sink;
}

/** @internal Tests only: uninstall the tracing file. */
export function resetTracingForTests(): void {
  if (sink) closeSync(sink.fd);
  sink = null;
}

/** Append one line to the tracing file (sync, so lines keep their order and survive a crash). */
export function writeTracingLine(line: string): void {
  if (sink) writeSync(sink.fd, `${line}\n`);
}

export function parseLogLevel(value: string, what = "logLevel"): LogLevel | "silent" {
  switch (value) {
    case "trace":
    case "debug":
      return "debug";
    case "info":
    case "warn":
    case "error":
    case "silent":
      return value;
    case "off":
      return "silent";
    default:
      throw new RangeError(`${what} must be one of trace, debug, info, warn, error, off; got '${value}'`);
  }
}

export function parseLogFormat(value: string, what = "logFormat"): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new RangeError(`${what} must be one of ${LOG_FORMATS.join(", ")}; got '${value}'`);
}

/** One log line in `style` (no trailing newline); `fields` are written by the JSON format only. */
export function formatLogLine(
  level: LogLevel,
  message: string,
  style: LineStyle,
  now = new Date(),
  fields?: Readonly<Record<string, unknown>>,
): string {
  const service = style.serviceName ?? "pg-durable";
  const LEVEL = level.toUpperCase();
  switch (style.format) {
    case undefined:
      return `[${service}] ${LEVEL} ${message}`;
    case "compact":
      return `${now.toISOString()} ${LEVEL.padStart(5)} ${service}${versionSuffix(style)}: ${message}`;
    case "pretty":
      return `${now.toISOString()} ${LEVEL.padStart(5)} ${service}${versionSuffix(style)}\n    ${message}`;
    case "json":
      return JSON.stringify({
        timestamp: now.toISOString(),
        level: LEVEL,
        "service.name": service,
        ...(style.serviceVersion ? { "service.version": style.serviceVersion } : {}),
        message,
        ...definedFields(fields),
      });
  }
}

/** The fields that have a value; the line's own keys (timestamp, level, message…) win. */
function definedFields(fields: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!fields) return out;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && !RESERVED_KEYS.has(key)) out[key] = value;
  }
  return out;
}

const RESERVED_KEYS = new Set(["timestamp", "level", "service.name", "service.version", "message"]);

function versionSuffix(style: LineStyle): string {
  return style.serviceVersion ? `@${style.serviceVersion}` : "";
}
