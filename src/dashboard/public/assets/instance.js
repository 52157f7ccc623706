/**
 * One instance ("/instances/<id>", `?execution=N` to pick an execution): status, input, output or
 * error, custom status, the history as a timeline and as a table, executions, KV entries, and the
 * parent/children tree; actions cancel, raise an event and delete. A running instance is polled
 * every 2 s so its page follows it; a finished one is fetched once.
 */
import { actionButton, cancelInstance, deleteInstance, raiseEvent } from "./actions.js";
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import {
  duration,
  emptyState,
  errorState,
  jsonBlock,
  loadingState,
  preview,
  statusBadge,
  timeCell,
} from "./format.js";
import { instanceUrl, navigate } from "./router.js";
import { renderTimeline } from "./timeline.js";

const POLL_MS = 2000;
const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Cancelled"]);

export function renderInstance({ container, params, query }) {
  const id = params[0];
  let alive = true;
  let timer = null;
  let lastShown = "";
  let chosenExecution = query.get("execution") ? Number(query.get("execution")) : null;
  let onResize = null;

  mount(container, loadingState(`Loading ${id}…`));

  // The history is fetched again only when the instance or the chosen execution changed: it can
  // be megabytes, and a running instance is polled.
  let lastHistory = null;
  let lastHistoryKey = "";

  async function load() {
    clearTimeout(timer);
    try {
      const instance = await api.instance(id);
      const executionId = chosenExecution ?? instance.currentExecutionId;
      const historyKey = `${executionId}:${instance.updatedAtMs}:${instance.status}`;
      const history =
        historyKey === lastHistoryKey && lastHistory ? lastHistory : await api.history(id, executionId);
      lastHistory = history;
      lastHistoryKey = historyKey;
      if (!alive) return;
      const shown = JSON.stringify([instance, history]);
      if (shown !== lastShown) {
        lastShown = shown;
        show(instance, history, executionId);
      }
      if (!TERMINAL.has(instance.status)) timer = setTimeout(load, POLL_MS);
    } catch (error) {
      if (!alive) return;
      if (error.status === 404) {
        mount(
          container,
          emptyState(
            "Instance not found",
            `No instance "${id}" in this schema: it may have been deleted.`,
            h("a", { href: "/", class: "btn" }, "Back to instances"),
          ),
        );
      } else if (lastShown) {
        timer = setTimeout(load, POLL_MS * 3); // keep the last good view through a blip
      } else {
        mount(
          container,
          errorState(error, () => load()),
        );
      }
    }
  }

  function show(instance, history, executionId) {
    const openKeys = new Set(
      [...container.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key),
    );
    const closedKeys = new Set(
      [...container.querySelectorAll("details:not([open])[data-key]")].map((d) => d.dataset.key),
    );
    const execution = instance.executions?.find((e) => e.executionId === executionId);
    const timelineHost = h("div", { class: "timeline-host" });
    const drawTimeline = () =>
      mount(
        timelineHost,
        renderTimeline(history, execution, Math.max(640, timelineHost.clientWidth || 1000)),
      );

    mount(
      container,
      h(
        "section",
        { class: "page instance-page", "data-instance": instance.instanceId, "data-status": instance.status },
        header(instance, load),
        summary(instance),
        h(
          "div",
          { class: "card" },
          h("h2", null, "Data"),
          h(
            "div",
            { class: "json-list" },
            jsonBlock("Input", instance.input),
            instance.error !== null && instance.error !== undefined
              ? jsonBlock("Error", instance.error, { open: true, tone: "json-error" })
              : jsonBlock("Output", instance.output, { open: TERMINAL.has(instance.status) }),
            jsonBlock(
              instance.customStatusVersion
                ? `Custom status (v${instance.customStatusVersion})`
                : "Custom status",
              instance.customStatus,
            ),
          ),
        ),
        h(
          "div",
          { class: "card" },
          h(
            "div",
            { class: "card-head" },
            h("h2", null, "Timeline"),
            executionTabs(instance, executionId, (n) => {
              chosenExecution = n;
              window.history.replaceState(null, "", `${instanceUrl(id)}?execution=${n}`);
              lastShown = "";
              load();
            }),
          ),
          timelineHost,
        ),
        h(
          "div",
          { class: "grid-3" },
          h("div", { class: "card" }, h("h2", null, "Executions"), executionsTable(instance, executionId)),
          h("div", { class: "card" }, h("h2", null, "Key-value entries"), kvTable(instance.kv ?? [])),
          h("div", { class: "card" }, h("h2", null, "Parent and children"), treeView(instance)),
        ),
        h(
          "details",
          { class: "card history-card", "data-key": "history-events" },
          h(
            "summary",
            null,
            h("h2", null, "History events"),
            h("span", { class: "muted" }, ` ${(history.events ?? []).length} in execution ${executionId}`),
          ),
          eventsTable(history.events ?? []),
        ),
      ),
    );
    for (const details of container.querySelectorAll("details[data-key]")) {
      if (openKeys.has(details.dataset.key)) details.open = true;
      if (closedKeys.has(details.dataset.key)) details.open = false;
    }
    drawTimeline();
    if (onResize) window.removeEventListener("resize", onResize);
    let resizeTimer = null;
    onResize = () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(drawTimeline, 150);
    };
    window.addEventListener("resize", onResize);
  }

  function header(instance, reload) {
    const finished = TERMINAL.has(instance.status);
    return h(
      "div",
      { class: "page-head" },
      h(
        "div",
        { class: "title-block" },
        h(
          "nav",
          { class: "breadcrumb", "aria-label": "Breadcrumb" },
          h("a", { href: "/" }, "Instances"),
          " / ",
        ),
        h(
          "h1",
          { class: "instance-title" },
          h("span", { class: "mono" }, instance.instanceId),
          statusBadge(instance.status),
          finished
            ? null
            : h("span", { class: "live", title: `Refreshing every ${POLL_MS / 1000} s` }, "live"),
        ),
      ),
      h(
        "div",
        { class: "page-actions" },
        actionButton(
          "Raise event…",
          async () => {
            if (await raiseEvent(instance.instanceId)) reload();
          },
          { action: "raise" },
        ),
        finished
          ? null
          : actionButton(
              "Cancel…",
              async () => {
                if (await cancelInstance(instance.instanceId)) reload();
              },
              { tone: "btn-warn", action: "cancel" },
            ),
        actionButton(
          "Delete…",
          async () => {
            if (await deleteInstance(instance.instanceId, { running: !finished })) navigate("/");
          },
          { tone: "btn-danger-outline", action: "delete" },
        ),
      ),
    );
  }

  load();
  return () => {
    alive = false;
    clearTimeout(timer);
    if (onResize) window.removeEventListener("resize", onResize);
  };
}

function summary(instance) {
  const item = (label, value) =>
    h("div", { class: "summary-item" }, h("dt", null, label), h("dd", null, value));
  return h(
    "dl",
    { class: "summary card" },
    item("Orchestration", h("span", null, instance.orchestrationName)),
    item("Version", instance.orchestrationVersion ?? "—"),
    item("Created", timeCell(instance.createdAtMs)),
    item("Updated", timeCell(instance.updatedAtMs)),
    item("Current execution", String(instance.currentExecutionId ?? "—")),
    item(
      "Parent",
      instance.parentInstanceId
        ? h("a", { href: instanceUrl(instance.parentInstanceId), class: "mono" }, instance.parentInstanceId)
        : h("span", { class: "muted" }, "none (top level)"),
    ),
  );
}

function executionTabs(instance, selected, choose) {
  const executions = instance.executions ?? [];
  if (executions.length <= 1) return null;
  return h(
    "div",
    { class: "tabs", role: "tablist", "aria-label": "Execution" },
    executions.map((e) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          class: `tab${e.executionId === selected ? " active" : ""}`,
          "aria-selected": String(e.executionId === selected),
          "data-execution": e.executionId,
          onclick: () => choose(e.executionId),
        },
        `#${e.executionId}`,
      ),
    ),
  );
}

function executionsTable(instance, selected) {
  const executions = instance.executions ?? [];
  if (!executions.length) return h("p", { class: "muted" }, "No executions recorded.");
  return h(
    "table",
    { class: "table compact" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "#"),
        h("th", null, "Status"),
        h("th", null, "Took"),
        h("th", { class: "num" }, "Events"),
      ),
    ),
    h(
      "tbody",
      null,
      executions.map((e) =>
        h(
          "tr",
          { class: e.executionId === selected ? "selected" : "" },
          h(
            "td",
            null,
            h(
              "a",
              { href: `${instanceUrl(instance.instanceId)}?execution=${e.executionId}` },
              `#${e.executionId}`,
            ),
          ),
          h("td", null, statusBadge(e.status)),
          h(
            "td",
            { title: e.startedAtMs ? new Date(e.startedAtMs).toISOString() : "" },
            e.completedAtMs
              ? duration(e.completedAtMs - e.startedAtMs)
              : h("span", { class: "muted" }, "running"),
          ),
          h("td", { class: "num" }, String(e.eventCount ?? "")),
        ),
      ),
    ),
  );
}

function kvTable(entries) {
  if (!entries.length) return h("p", { class: "muted" }, "No KV entries.");
  return h(
    "table",
    { class: "table compact" },
    h("thead", null, h("tr", null, h("th", null, "Key"), h("th", null, "Value"))),
    h(
      "tbody",
      null,
      entries.map((entry) =>
        h(
          "tr",
          null,
          h("td", { class: "mono" }, entry.key),
          h(
            "td",
            {
              class: "mono",
              title: typeof entry.value === "string" ? entry.value : JSON.stringify(entry.value),
            },
            preview(entry.value, 60),
          ),
        ),
      ),
    ),
  );
}

function treeView(instance) {
  const tree = instance.tree;
  if (
    !tree ||
    (!tree.children?.length && tree.instanceId === instance.instanceId && !instance.parentInstanceId)
  ) {
    return h("p", { class: "muted" }, "No parent and no sub-orchestrations.");
  }
  const node = (n) =>
    h(
      "li",
      { class: n.instanceId === instance.instanceId ? "tree-node current" : "tree-node" },
      h(
        "div",
        { class: "tree-line" },
        statusBadge(n.status),
        n.instanceId === instance.instanceId
          ? h("span", { class: "mono", title: n.instanceId }, n.instanceId)
          : h("a", { href: instanceUrl(n.instanceId), class: "mono", title: n.instanceId }, n.instanceId),
        h("span", { class: "muted" }, n.orchestrationName),
      ),
      n.children?.length ? h("ul", null, n.children.map(node)) : null,
    );
  return [
    h("ul", { class: "tree" }, node(tree)),
    instance.treeTruncated
      ? h("p", { class: "muted small" }, "A large family: only part of it is shown.")
      : null,
  ];
}

const FAILURE_EVENTS = /Failed$/;

const EVENT_ROWS = 500;

function eventsTable(allEvents) {
  if (!allEvents.length) return h("p", { class: "muted" }, "No events.");
  const start = allEvents[0].timestampMs;
  const events = allEvents.slice(0, EVENT_ROWS);
  const more =
    allEvents.length > EVENT_ROWS
      ? h(
          "p",
          { class: "muted" },
          `Showing the first ${EVENT_ROWS} of ${allEvents.length} events (the API's history answer has them all).`,
        )
      : null;
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "table compact events" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { class: "num" }, "#"),
          h("th", null, "Event"),
          h("th", null, "At"),
          h("th", { class: "num" }, "Source"),
          h("th", null, "Data"),
        ),
      ),
      h(
        "tbody",
        null,
        events.map((e) =>
          h(
            "tr",
            { class: FAILURE_EVENTS.test(e.type) ? "event-failed" : "", "data-type": e.type },
            h("td", { class: "num" }, String(e.eventId)),
            h("td", null, h("span", { class: "event-type" }, e.type)),
            h("td", { title: new Date(e.timestampMs).toISOString() }, `+${duration(e.timestampMs - start)}`),
            h("td", { class: "num" }, e.sourceEventId ?? ""),
            h("td", { class: "mono data-cell", title: JSON.stringify(e.data) }, preview(e.data, 90)),
          ),
        ),
      ),
    ),
    more,
  );
}
