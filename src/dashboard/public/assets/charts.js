/**
 * The metrics page ("/metrics"): orchestrations started/completed/failed per minute and turn and
 * activity latency (p50/p95) over the last hour, as small inline-SVG line charts, plus the queue
 * depths. Refreshed every 15 s.
 */
import { api } from "./api.js";
import { h, mount, svg } from "./dom.js";
import { duration, errorState, loadingState } from "./format.js";

const REFRESH_MS = 15_000;
const HEIGHT = 220;
const PAD = { top: 16, right: 16, bottom: 28, left: 52 };
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** Round gridline values: a step of 1, 2 or 5 × 10^k giving about four steps up to `max`. */
function niceTicks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw) ?? 10 * power;
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

function formatValue(value, unit) {
  if (value === null || value === undefined) return "no data";
  return unit === "ms" ? duration(value) : String(value);
}

/**
 * A chart of `series` (keys of each bucket) over time: lines (null values break the line: no data
 * in that minute) or, with style "bars", grouped bars per minute (counts, often sparse); a hover
 * band per bucket shows every value of that minute.
 */
export function lineChart({ buckets, bucketMs, series, unit, width, style = "lines" }) {
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const first = buckets[0]?.startMs ?? Date.now();
  const last = (buckets.at(-1)?.startMs ?? first) + bucketMs;
  const values = buckets.flatMap((b) => series.map((s) => b[s.key])).filter((v) => Number.isFinite(v));
  const yTicks = niceTicks(Math.max(0, ...values));
  const top = yTicks.at(-1);
  const x = (t) => PAD.left + ((t - first) / Math.max(1, last - first)) * plotW;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const mid = (b) => x(b.startMs + bucketMs / 2);

  const grid = yTicks.map((v) =>
    svg(
      "g",
      null,
      svg("line", { x1: PAD.left, x2: PAD.left + plotW, y1: y(v), y2: y(v), class: "chart-grid" }),
      svg(
        "text",
        { x: PAD.left - 8, y: y(v) + 4, "text-anchor": "end", class: "chart-tick" },
        unit === "ms" ? duration(v) : String(+v.toFixed(2)),
      ),
    ),
  );
  const xTicks = [];
  const tickEvery = 10 * 60_000;
  for (let t = Math.ceil(first / tickEvery) * tickEvery; t <= last; t += tickEvery) xTicks.push(t);
  const xAxis = xTicks.map((t) =>
    svg(
      "text",
      { x: x(t), y: HEIGHT - 8, "text-anchor": "middle", class: "chart-tick" },
      clock.format(new Date(t)),
    ),
  );

  const slot = (b) => Math.max(1, x(b.startMs + bucketMs) - x(b.startMs));
  const barWidth = (b) => Math.max(1, (slot(b) * 0.8) / series.length);
  const bars = series.map((s, index) =>
    svg(
      "g",
      { class: `chart-series chart-bars ${s.cls}`, "data-series": s.key },
      buckets
        .filter((b) => Number.isFinite(b[s.key]) && b[s.key] > 0)
        .map((b) =>
          svg("rect", {
            x: x(b.startMs) + slot(b) * 0.1 + index * barWidth(b),
            y: y(b[s.key]),
            width: barWidth(b),
            height: Math.max(0, y(0) - y(b[s.key])),
            rx: Math.min(2, barWidth(b) / 2),
          }),
        ),
    ),
  );

  const lines = series.map((s) => {
    const segments = [];
    let current = [];
    for (const bucket of buckets) {
      const value = bucket[s.key];
      if (Number.isFinite(value)) current.push(`${mid(bucket).toFixed(1)},${y(value).toFixed(1)}`);
      else if (current.length) {
        segments.push(current);
        current = [];
      }
    }
    if (current.length) segments.push(current);
    return svg(
      "g",
      { class: `chart-series ${s.cls}`, "data-series": s.key },
      segments.map((points) =>
        points.length === 1
          ? svg("circle", { cx: points[0].split(",")[0], cy: points[0].split(",")[1], r: 3.5 })
          : svg("polyline", { points: points.join(" ") }),
      ),
    );
  });

  const bands = buckets.map((bucket) =>
    svg(
      "rect",
      {
        x: x(bucket.startMs),
        y: PAD.top,
        width: Math.max(1, x(bucket.startMs + bucketMs) - x(bucket.startMs)),
        height: plotH,
        class: "chart-hover",
      },
      svg(
        "title",
        null,
        `${clock.format(new Date(bucket.startMs))}\n${series.map((s) => `${s.label}: ${formatValue(bucket[s.key], unit)}`).join("\n")}`,
      ),
    ),
  );

  return svg(
    "svg",
    { class: "chart", width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: "img" },
    grid,
    xAxis,
    style === "bars" ? bars : lines,
    bands,
  );
}

function chartCard(title, subtitle, chartOptions, series, summaryText) {
  const host = h("div", { class: "chart-host" });
  const card = h(
    "div",
    { class: "card chart-card", "data-chart": chartOptions.id },
    h(
      "div",
      { class: "card-head" },
      h("div", null, h("h2", null, title), h("p", { class: "muted small" }, subtitle)),
      h("div", { class: "chart-total" }, summaryText),
    ),
    host,
    h(
      "div",
      { class: "legend" },
      series.map((s) => h("span", { class: `legend-item ${s.cls}` }, h("i", { class: "swatch" }), s.label)),
    ),
  );
  const draw = () =>
    mount(host, lineChart({ ...chartOptions, series, width: Math.max(320, host.clientWidth || 560) }));
  return { card, draw };
}

function sum(buckets, key) {
  return buckets.reduce((total, b) => total + (Number.isFinite(b[key]) ? b[key] : 0), 0);
}

function queueTable(queues) {
  const names = Object.keys(queues).filter((k) => queues[k] && typeof queues[k] === "object");
  return h(
    "table",
    { class: "table compact" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "Queue"),
        h("th", { class: "num" }, "Ready"),
        h("th", { class: "num" }, "Delayed"),
        h("th", { class: "num" }, "Locked"),
      ),
    ),
    h(
      "tbody",
      null,
      names.map((name) =>
        h(
          "tr",
          { "data-queue": name },
          h("td", null, name[0].toUpperCase() + name.slice(1)),
          h("td", { class: "num" }, String(queues[name].ready ?? 0)),
          h("td", { class: "num" }, String(queues[name].delayed ?? 0)),
          h("td", { class: "num" }, String(queues[name].locked ?? 0)),
        ),
      ),
    ),
  );
}

export function renderMetrics({ container }) {
  let alive = true;
  let timer = null;
  let draws = [];
  const onResize = () => {
    for (const draw of draws) draw();
  };
  window.addEventListener("resize", onResize);
  mount(container, loadingState("Loading metrics…"));

  async function load() {
    clearTimeout(timer);
    try {
      const [metrics, queues] = await Promise.all([api.metrics(60), api.queues()]);
      if (!alive) return;
      const buckets = metrics.buckets ?? [];
      const throughput = chartCard(
        "Orchestrations per minute",
        "Started, completed and failed in each minute of the last hour",
        { id: "throughput", buckets, bucketMs: metrics.bucketMs, unit: "count", style: "bars" },
        [
          { key: "started", label: "Started", cls: "s-started" },
          { key: "completed", label: "Completed", cls: "s-completed" },
          { key: "failed", label: "Failed", cls: "s-failed" },
        ],
        `${sum(buckets, "started")} started · ${sum(buckets, "completed")} completed · ${sum(buckets, "failed")} failed`,
      );
      const turn = chartCard(
        "Turn latency",
        "Time to run one orchestration turn (p50 and p95 per minute)",
        { id: "turn", buckets, bucketMs: metrics.bucketMs, unit: "ms" },
        [
          { key: "turnP50Ms", label: "p50", cls: "s-p50" },
          { key: "turnP95Ms", label: "p95", cls: "s-p95" },
        ],
        "",
      );
      const activity = chartCard(
        "Activity latency",
        "From scheduling an activity to its result (p50 and p95 per minute)",
        { id: "activity", buckets, bucketMs: metrics.bucketMs, unit: "ms" },
        [
          { key: "activityP50Ms", label: "p50", cls: "s-p50" },
          { key: "activityP95Ms", label: "p95", cls: "s-p95" },
        ],
        "",
      );
      mount(
        container,
        h(
          "section",
          { class: "page" },
          h(
            "div",
            { class: "page-head" },
            h(
              "div",
              null,
              h("h1", null, "Metrics"),
              h("p", { class: "muted" }, "The last hour, per minute. Refreshed every 15 seconds."),
            ),
          ),
          h(
            "div",
            { class: "charts" },
            throughput.card,
            h("div", { class: "grid-2" }, turn.card, activity.card),
          ),
          h("div", { class: "card queue-card" }, h("h2", null, "Queues"), queueTable(queues)),
        ),
      );
      draws = [throughput.draw, turn.draw, activity.draw];
      onResize();
      timer = setTimeout(load, REFRESH_MS);
    } catch (error) {
      if (alive)
        mount(
          container,
          errorState(error, () => load()),
        );
    }
  }

  load();
  return () => {
    alive = false;
    clearTimeout(timer);
    window.removeEventListener("resize", onResize);
  };
}
