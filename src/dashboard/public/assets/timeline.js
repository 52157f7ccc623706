/**
 * An execution's history as a timeline, drawn as inline SVG: one row per activity, timer,
 * sub-orchestration and awaited external event (the API's `spans`), a bar from when it was
 * scheduled to when its outcome arrived, with its duration; failures are red with a ✕ mark, pending
 * work runs to "now" with a dashed outline. A first row shows the execution itself.
 */
import { h, svg } from "./dom.js";
import { absoluteTime, duration } from "./format.js";
import { instanceUrl } from "./router.js";

const KIND_LABELS = {
  execution: "Execution",
  activity: "Activity",
  timer: "Timer",
  subOrchestration: "Sub-orchestration",
  externalEvent: "External event",
};
const ROW = 30;
const AXIS = 30;
const LABEL_WIDTH = 230;
const RIGHT_PAD = 96;
/** More rows than this would make an unreadable, very tall drawing: the rest are counted below it. */
const MAX_ROWS = 300;

/** 1, 2, 5 × 10^k ms so that about `target` ticks cover `span`. */
function tickStep(span, target = 6) {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return factor * power;
  return 10 * power;
}

function tickLabel(ms) {
  if (ms === 0) return "0";
  if (ms < 1000) return `+${ms} ms`;
  if (ms < 60_000) return `+${+(ms / 1000).toFixed(2)} s`;
  return `+${+(ms / 60_000).toFixed(1)} min`;
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * @param history  the API's history answer ({events, spans})
 * @param execution the execution's row ({status, startedAtMs, completedAtMs}) when known
 */
export function renderTimeline(history, execution, width, now = Date.now()) {
  const events = history.events ?? [];
  const allSpans = history.spans ?? [];
  const spans = [...allSpans]
    .slice(0, MAX_ROWS)
    .sort((a, b) => a.startMs - b.startMs || a.scheduledEventId - b.scheduledEventId);
  if (events.length === 0 && spans.length === 0) {
    return h("p", { class: "muted timeline-empty" }, "No history in this execution yet.");
  }
  const running = !execution?.completedAtMs && execution?.status === "Running";
  // Work still pending in a running execution runs to now; in a finished one, to its end.
  const times = [
    ...events.map((e) => e.timestampMs),
    ...spans.flatMap((s) => [s.startMs, s.endMs ?? (running ? now : null)]),
    execution?.startedAtMs,
    execution?.completedAtMs,
  ].filter((t) => Number.isFinite(t));
  const start = Math.min(...times);
  let end = Math.max(...times, running ? now : Number.NEGATIVE_INFINITY);
  if (end - start < 1) end = start + 1;

  const executionFailed =
    execution?.status === "Failed" || events.some((e) => e.type === "OrchestrationFailed");
  const rows = [
    {
      kind: "execution",
      name: `Execution ${history.executionId ?? ""}`.trim(),
      startMs: execution?.startedAtMs ?? start,
      endMs: execution?.completedAtMs ?? (running ? null : end),
      outcome: running ? "pending" : executionFailed ? "failed" : "completed",
    },
    ...spans,
  ];

  const plotWidth = Math.max(200, width - LABEL_WIDTH - RIGHT_PAD);
  const x = (t) => LABEL_WIDTH + ((t - start) / (end - start)) * plotWidth;
  const height = AXIS + rows.length * ROW + 8;
  const step = tickStep(end - start);
  const ticks = [];
  for (let t = 0; t <= end - start + 1e-9; t += step) ticks.push(t);

  const axis = svg(
    "g",
    { class: "tl-axis" },
    ticks.map((t) =>
      svg(
        "g",
        null,
        svg("line", { x1: x(start + t), x2: x(start + t), y1: AXIS - 6, y2: height - 4, class: "tl-grid" }),
        svg(
          "text",
          { x: x(start + t), y: AXIS - 12, "text-anchor": "middle", class: "tl-tick" },
          tickLabel(t),
        ),
      ),
    ),
  );

  const drawn = rows.map((row, index) => {
    const y = AXIS + index * ROW;
    const pending = row.endMs === null || row.endMs === undefined;
    const rowEnd = pending ? end : row.endMs;
    const x1 = x(row.startMs);
    const barWidth = Math.max(4, x(rowEnd) - x1);
    const outcome = row.outcome ?? (pending ? "pending" : "completed");
    const took = rowEnd - row.startMs;
    const label = KIND_LABELS[row.kind] ?? row.kind;
    const name =
      row.kind === "timer" && Number.isFinite(row.fireAtMs)
        ? `timer ${duration(row.fireAtMs - row.startMs)}`
        : row.name;
    const tooltip = [
      `${label} ${row.name ?? ""} — ${outcome}${pending ? " (still waiting)" : ""}`,
      `${duration(took)}, from ${absoluteTime(row.startMs)}`,
      row.childInstanceId ? `instance ${row.childInstanceId} (click to open)` : null,
      row.error ? `error: ${row.error}` : null,
    ]
      .filter(Boolean)
      .join("\n");
    const text = svg(
      "text",
      { x: 24, y: y + ROW / 2 + 4, class: "tl-label" },
      svg("tspan", { class: "tl-name" }, truncate(name || label, 22)),
      svg(
        "tspan",
        { class: "tl-kind", dx: 6 },
        row.kind === "execution" || row.kind === "timer" ? "" : label.toLowerCase(),
      ),
    );
    return svg(
      "g",
      {
        class: `tl-row tl-${row.kind} tl-${outcome}`,
        "data-kind": row.kind,
        "data-outcome": outcome,
        "data-name": row.name ?? "",
      },
      svg("title", null, tooltip),
      index % 2 === 1 ? svg("rect", { x: 0, y, width, height: ROW, class: "tl-stripe" }) : null,
      svg("circle", { cx: 12, cy: y + ROW / 2, r: 4, class: "tl-dot" }),
      row.childInstanceId
        ? svg("a", { href: instanceUrl(row.childInstanceId), class: "tl-link" }, text)
        : text,
      svg("rect", {
        x: x1,
        y: y + 7,
        width: barWidth,
        height: ROW - 14,
        rx: 4,
        class: "tl-bar",
        "data-duration-ms": Math.round(took),
      }),
      outcome === "failed"
        ? svg(
            "g",
            { class: "tl-fail-mark", transform: `translate(${x1 + barWidth},${y + ROW / 2})` },
            svg("circle", { r: 7 }),
            svg("path", { d: "M-3,-3 L3,3 M3,-3 L-3,3" }),
          )
        : null,
      svg(
        "text",
        { x: x1 + barWidth + (outcome === "failed" ? 12 : 6), y: y + ROW / 2 + 4, class: "tl-duration" },
        pending ? `${duration(took)}…` : duration(took),
      ),
    );
  });

  const chart = svg(
    "svg",
    {
      class: "timeline-svg",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `Timeline of ${rows.length - 1} scheduled item(s) over ${duration(end - start)}`,
    },
    axis,
    drawn,
  );
  const legend = h(
    "div",
    { class: "legend" },
    ["activity", "timer", "subOrchestration", "externalEvent"].map((kind) =>
      h("span", { class: `legend-item tl-${kind}` }, h("i", { class: "swatch" }), KIND_LABELS[kind]),
    ),
    h("span", { class: "legend-item tl-failed" }, h("i", { class: "swatch" }), "Failed"),
    h("span", { class: "legend-item tl-pending" }, h("i", { class: "swatch" }), "Pending"),
    h("span", { class: "legend-item muted" }, `Total ${duration(end - start)}`),
    allSpans.length > MAX_ROWS
      ? h("span", { class: "legend-item muted" }, `Showing the first ${MAX_ROWS} of ${allSpans.length} items`)
      : null,
  );
  return h("div", { class: "timeline" }, h("div", { class: "timeline-scroll" }, chart), legend);
}
