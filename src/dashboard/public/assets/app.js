/**
 * Entry point: reads the server's config (schema, read-only), keeps the queue depths in the header
 * fresh, and starts the router on the pages.
 */
import { setReadOnly } from "./actions.js";
import { api } from "./api.js";
import { renderMetrics } from "./charts.js";
import { h, mount } from "./dom.js";
import { emptyState, errorState } from "./format.js";
import { renderInstance } from "./instance.js";
import { renderList } from "./list.js";
import { notFound, route, startRouter } from "./router.js";

const QUEUE_REFRESH_MS = 5000;
const main = document.getElementById("main");

function queueChip(label, queue) {
  const ready = queue?.ready ?? 0;
  return h(
    "span",
    {
      class: `queue-chip${ready > 0 ? " busy" : ""}`,
      "data-queue": label.toLowerCase(),
      title: `${label} queue: ${ready} ready, ${queue?.delayed ?? 0} delayed (visible later), ${queue?.locked ?? 0} locked (being processed)`,
    },
    h("span", { class: "queue-name" }, label),
    h("b", null, String(ready)),
    h("span", { class: "queue-sub" }, `${queue?.delayed ?? 0} delayed · ${queue?.locked ?? 0} locked`),
  );
}

async function refreshQueues() {
  const box = document.getElementById("queues");
  try {
    const queues = await api.queues();
    mount(box, queueChip("Orchestrator", queues.orchestrator), queueChip("Worker", queues.worker));
    box.classList.remove("stale");
  } catch {
    box.classList.add("stale");
  }
  setTimeout(refreshQueues, QUEUE_REFRESH_MS);
}

async function start() {
  let config;
  try {
    config = await api.config();
  } catch (error) {
    mount(
      main,
      errorState(error, () => location.reload()),
    );
    return;
  }
  setReadOnly(config.readOnly);
  document.getElementById("schema-name").textContent = config.schema;
  document.getElementById("readonly-badge").hidden = !config.readOnly;
  document.title = `${config.schema} · pg-durable dashboard`;
  document.body.dataset.readOnly = String(Boolean(config.readOnly));
  if (config.version) document.querySelector(".brand").title = `pg-durable ${config.version}`;

  route(/^\/$/, renderList);
  route(/^\/instances\/(.+)$/, renderInstance);
  route(/^\/metrics\/?$/, renderMetrics);
  notFound(({ container }) =>
    mount(
      container,
      emptyState(
        "Page not found",
        "There is no such page in the dashboard.",
        h("a", { href: "/", class: "btn" }, "Go to instances"),
      ),
    ),
  );
  startRouter(main);
  refreshQueues();
}

start();
