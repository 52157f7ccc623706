/**
 * `--trace-calls`: one orchestration run alone, with a timeline of every provider call the
 * runtime and client made (start time, wall time, what it returned) and every round trip the
 * proxy saw (which connection, which store function or statement the write burst carried, and how
 * long the server took to answer, the added delay excluded). It is
 * how the critical path of an idle instance is counted in sequential round trips
 * (docs/benchmarks.md).
 */
import { FrontendMessageReader } from "./pg-wire.ts";
import type { ProxyObserver } from "./tcp-proxy.ts";

interface CallEvent {
  kind: "call";
  atMs: number;
  wallMs: number;
  name: string;
  outcome: string;
}

interface WireEvent {
  kind: "wire";
  atMs: number;
  connection: number;
  labels: string[];
  /** When the server's first reply to this burst reached the proxy (before the added delay). */
  answeredAtMs?: number;
}

type TraceEvent = CallEvent | WireEvent;

export class CallTrace implements ProxyObserver {
  private readonly readers = new Map<number, FrontendMessageReader>();
  private readonly events: TraceEvent[] = [];
  /** The burst each connection is in, so chunks after the first add their labels to it. */
  private readonly openBursts = new Map<number, WireEvent>();
  private recording = false;
  private origin = 0;
  /** Round trips per store function (or statement), while tallying. */
  private readonly tally = new Map<string, number>();
  private tallying = false;

  /** `addedDelayMs`: the proxy's delay, taken off the server's answer times it shows. */
  constructor(private readonly addedDelayMs = 0) {}

  /** Start keeping events; times are shown relative to now. */
  start(): void {
    this.events.length = 0;
    this.origin = performance.now();
    this.recording = true;
  }

  stop(): void {
    this.recording = false;
  }

  clientData(connection: number, chunk: Buffer, startsRoundTrip: boolean): void {
    // Every connection's stream is followed from its start (the labels need it), kept or not.
    let reader = this.readers.get(connection);
    if (!reader) {
      reader = new FrontendMessageReader();
      this.readers.set(connection, reader);
    }
    const labels = reader.feed(chunk);
    // A burst is tallied by what its first chunk carried (a call's Parse/Bind lead its write).
    if (this.tallying && startsRoundTrip) this.count(summarize(labels));
    if (!this.recording) return;
    let burst = startsRoundTrip ? undefined : this.openBursts.get(connection);
    if (!burst) {
      burst = { kind: "wire", atMs: performance.now() - this.origin, connection, labels: [] };
      this.openBursts.set(connection, burst);
      this.events.push(burst);
    }
    burst.labels.push(...labels);
  }

  opened(connection: number): void {
    if (this.tallying) this.count("tcp connect");
    if (this.recording)
      this.events.push({
        kind: "wire",
        atMs: performance.now() - this.origin,
        connection,
        labels: ["tcp connect"],
      });
  }

  serverData(connection: number): void {
    const burst = this.openBursts.get(connection);
    if (burst && burst.answeredAtMs === undefined) burst.answeredAtMs = performance.now() - this.origin;
  }

  closed(connection: number): void {
    this.readers.delete(connection);
    this.openBursts.delete(connection);
  }

  /**
   * The provider as the runtime and client see it, with every asynchronous method call recorded.
   * Calls inside the provider are not (they reach the object itself); the management capability
   * is wrapped too (the worker may ask it which orchestration an activity belongs to).
   */
  traced<P extends object>(provider: P): P {
    return new Proxy(provider, {
      get: (target, property, _receiver) => {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== "function" || typeof property !== "string") return value;
        return (...args: unknown[]) => {
          const began = performance.now();
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (property === "asManagementCapability" && result && typeof result === "object")
            return this.traced(result);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (v: unknown) => {
              this.recordCall(property, began, describe(v));
              return v;
            },
            (error: unknown) => {
              this.recordCall(property, began, `error: ${(error as Error)?.message ?? error}`);
              throw error;
            },
          );
        };
      },
    });
  }

  private recordCall(name: string, began: number, outcome: string): void {
    if (!this.recording) return;
    const end = performance.now();
    this.events.push({ kind: "call", atMs: began - this.origin, wallMs: end - began, name, outcome });
  }

  /** Count round trips per store function from now on (the measured window), or stop. */
  setTallying(on: boolean): void {
    if (on) this.tally.clear();
    this.tallying = on;
  }

  /** Round trips per function in the tallied window, most first, divided by `per`. */
  renderTally(per: number): string {
    return [...this.tally]
      .sort((a, b) => b[1] - a[1])
      .map(([label, n]) => `  ${(n / per).toFixed(2).padStart(7)}  ${label}`)
      .join("\n");
  }

  private count(label: string): void {
    const key = label.replace(/ \+parse$/, "");
    this.tally.set(key, (this.tally.get(key) ?? 0) + 1);
  }

  /** Round trips recorded (write bursts), all connections. */
  roundTrips(): number {
    return this.events.filter((e) => e.kind === "wire").length;
  }

  /** The timeline, one line per event in time order (a call at its start, with its wall time). */
  render(): string {
    const lines = [...this.events]
      .sort((a, b) => a.atMs - b.atMs)
      .map((e) =>
        e.kind === "call"
          ? `${stamp(e.atMs)}  call     ${e.name} (${e.wallMs.toFixed(1)} ms) -> ${e.outcome}`
          : `${stamp(e.atMs)}  rt c${String(e.connection).padEnd(3)} ${summarize(e.labels)}${e.answeredAtMs === undefined ? "" : ` (server ${(e.answeredAtMs - e.atMs - this.addedDelayMs).toFixed(1)} ms)`}`,
      );
    return lines.join("\n");
  }
}

function stamp(ms: number): string {
  return `${ms >= 0 ? "+" : ""}${ms.toFixed(1)} ms`.padStart(11);
}

/** "parse f" next to "f" is one call that also prepared its statement. */
function summarize(labels: readonly string[]): string {
  if (labels.length === 0) return "(continuation)";
  const names = new Set(labels);
  const shown: string[] = [];
  for (const label of labels) {
    if (label.startsWith("parse ") && names.has(label.slice(6))) continue;
    shown.push(names.has(`parse ${label}`) ? `${label} +parse` : label);
  }
  return shown.join(", ");
}

/** What a provider call returned, in a few words. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `${value.length} item(s)`;
  if (typeof value !== "object") return String(value).slice(0, 40);
  const item = (value as { item?: unknown }).item;
  if (item && typeof item === "object") {
    const instance = (item as { instance?: unknown }).instance;
    const messages = (item as { messages?: unknown[] }).messages;
    if (typeof instance === "string")
      return `item of ${instance}${Array.isArray(messages) ? ` (${messages.length} message(s))` : ""}`;
    return `item ${Object.keys(item).join(",")}`;
  }
  return "object";
}
