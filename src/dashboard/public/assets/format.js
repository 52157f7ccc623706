/** Formatting shared by the pages: times, durations, status badges, JSON blocks, page states. */
import { h } from "./dom.js";

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const UNITS = [
  ["year", 365 * 24 * 3600_000],
  ["month", 30 * 24 * 3600_000],
  ["day", 24 * 3600_000],
  ["hour", 3600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** "3 minutes ago" / "in 2 hours" / "now". */
export function relativeTime(ms, now = Date.now()) {
  const delta = ms - now;
  for (const [unit, size] of UNITS) {
    if (Math.abs(delta) >= size) return relative.format(Math.round(delta / size), unit);
  }
  return "just now";
}

export function absoluteTime(ms) {
  return absolute.format(new Date(ms));
}

/** A <time> showing the relative time, with the absolute one below (or as a tooltip when compact). */
export function timeCell(ms, { compact = false } = {}) {
  if (ms === null || ms === undefined) return h("span", { class: "muted" }, "—");
  const iso = new Date(ms).toISOString();
  return h(
    "time",
    { datetime: iso, title: `${absoluteTime(ms)} (${iso})`, class: "time" },
    h("span", { class: "time-rel" }, relativeTime(ms)),
    compact ? null : h("span", { class: "time-abs" }, absoluteTime(ms)),
  );
}

/** 840 ms, 3.2 s, 4 min 05 s, 2 h 10 min. */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3600_000) {
    const minutes = Math.floor(ms / 60_000);
    return `${minutes} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")} s`;
  }
  const hours = Math.floor(ms / 3600_000);
  return `${hours} h ${Math.round((ms % 3600_000) / 60_000)} min`;
}

/** Known statuses and how to show them; anything else gets a neutral badge. */
export const STATUSES = ["Running", "Completed", "Failed", "ContinuedAsNew"];
const STATUS_LABELS = { ContinuedAsNew: "Continued as new" };

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

export function statusBadge(status) {
  const known = STATUSES.includes(status) || status === "Cancelled" || status === "Terminated";
  const tone = known ? status.toLowerCase() : "other";
  return h("span", { class: `badge badge-${tone}`, "data-status": status }, statusLabel(status ?? "unknown"));
}

/**
 * Values in the store are serialized JSON strings (inputs, outputs, event data). Show the decoded
 * value when it parses; otherwise the text as it is.
 */
export function decodeValue(value) {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function pretty(value) {
  const decoded = decodeValue(value);
  if (typeof decoded === "string") return decoded;
  return JSON.stringify(decoded, null, 2);
}

/** A short one-line preview of a value, for summaries and table cells. */
export function preview(value, max = 80) {
  if (value === null || value === undefined) return "";
  const decoded = decodeValue(value);
  const text = typeof decoded === "string" ? decoded : JSON.stringify(decoded);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A collapsible, pretty-printed JSON block with a one-line preview and a copy button. */
export function jsonBlock(label, value, { open = false, tone = "" } = {}) {
  if (value === null || value === undefined) {
    return h(
      "div",
      { class: "json-empty" },
      h("span", { class: "json-label" }, label),
      h("span", { class: "muted" }, "none"),
    );
  }
  const text = pretty(value);
  const copy = h(
    "button",
    {
      class: "btn btn-ghost btn-small copy",
      type: "button",
      title: "Copy to clipboard",
      onclick: async (event) => {
        event.preventDefault();
        try {
          await navigator.clipboard.writeText(text);
          event.target.textContent = "Copied";
        } catch {
          event.target.textContent = "Copy failed";
        }
        setTimeout(() => {
          event.target.textContent = "Copy";
        }, 1500);
      },
    },
    "Copy",
  );
  return h(
    "details",
    { class: `json ${tone}`, open, "data-key": label },
    h(
      "summary",
      null,
      h("span", { class: "json-label" }, label),
      h("code", { class: "json-preview" }, preview(value, 120)),
      copy,
    ),
    h("pre", { class: "json-body" }, h("code", null, text)),
  );
}

export function loadingState(message = "Loading…") {
  return h(
    "div",
    { class: "state state-loading" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    message,
  );
}

export function errorState(error, retry) {
  return h(
    "div",
    { class: "state state-error", role: "alert" },
    h("strong", null, "Something went wrong"),
    h("p", null, error?.message ?? String(error)),
    retry ? h("button", { class: "btn", type: "button", onclick: retry }, "Try again") : null,
  );
}

export function emptyState(title, detail, action) {
  return h(
    "div",
    { class: "state state-empty" },
    h("div", { class: "empty-icon", "aria-hidden": "true" }, "∅"),
    h("strong", null, title),
    detail ? h("p", null, detail) : null,
    action ?? null,
  );
}
