/**
 * The instance list ("/"): filters (status, orchestration name, created range, id search) kept in
 * the query string so a filtered view can be bookmarked, sorting, and keyset paging. The server
 * gives one `nextCursor`; for Previous the page keeps the stack of cursors it came through, in the
 * history entry's state, so Back from an instance returns to the same page.
 */
import { actionButton, pruneExecutions } from "./actions.js";
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import {
  emptyState,
  errorState,
  loadingState,
  STATUSES,
  statusBadge,
  statusLabel,
  timeCell,
} from "./format.js";
import { instanceUrl, rememberState } from "./router.js";

const SORTS = [
  ["created_desc", "Newest first"],
  ["created_asc", "Oldest first"],
  ["updated_desc", "Recently updated"],
];
const PAGE_SIZES = [10, 20, 50, 100];
const DEFAULT_LIMIT = 50;

function filtersFromQuery(query) {
  return {
    status: query.get("status") ?? "",
    name: query.get("name") ?? "",
    createdFrom: query.get("createdFrom") ?? "",
    createdTo: query.get("createdTo") ?? "",
    q: query.get("q") ?? "",
    sort: query.get("sort") ?? "created_desc",
    limit: query.get("limit") ?? String(DEFAULT_LIMIT),
  };
}

function queryFromFilters(filters) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (!value) continue;
    if (key === "sort" && value === "created_desc") continue;
    if (key === "limit" && value === String(DEFAULT_LIMIT)) continue;
    query.set(key, value);
  }
  const text = query.toString();
  return text ? `/?${text}` : "/";
}

/** datetime-local values ("2026-01-31T12:00") are local times; the API wants ms since the epoch. */
function localToMs(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

function select(name, label, options, value) {
  const element = h(
    "select",
    { name, id: `filter-${name}`, "aria-label": label },
    options.map(([optionValue, text]) => h("option", { value: optionValue }, text)),
  );
  element.value = value;
  return element;
}

function field(label, control) {
  return h("label", { class: "filter" }, h("span", { class: "filter-label" }, label), control);
}

export function renderList({ container, query, state }) {
  let filters = filtersFromQuery(query);
  let cursors = Array.isArray(state?.cursors) ? state.cursors : [null];
  let alive = true;
  let requestSeq = 0;

  const statusSelect = select(
    "status",
    "Status",
    [["", "Any status"], ...STATUSES.map((s) => [s, statusLabel(s)])],
    filters.status,
  );
  const nameSelect = select("name", "Orchestration", [["", "Any orchestration"]], "");
  if (filters.name) nameSelect.append(h("option", { value: filters.name }, filters.name));
  nameSelect.value = filters.name;
  const fromInput = h("input", { type: "datetime-local", name: "createdFrom", "aria-label": "Created from" });
  fromInput.value = filters.createdFrom;
  const toInput = h("input", { type: "datetime-local", name: "createdTo", "aria-label": "Created to" });
  toInput.value = filters.createdTo;
  const searchInput = h("input", {
    type: "search",
    name: "q",
    placeholder: "Instance id…",
    title: "Finds the instances whose id starts with this text",
    "aria-label": "Search instance id",
    autocomplete: "off",
    spellcheck: "false",
  });
  searchInput.value = filters.q;
  const sortSelect = select("sort", "Sort", SORTS, filters.sort);
  const limitSelect = select(
    "limit",
    "Page size",
    PAGE_SIZES.map((n) => [String(n), String(n)]),
    filters.limit,
  );
  if (!PAGE_SIZES.map(String).includes(filters.limit)) {
    limitSelect.append(h("option", { value: filters.limit }, filters.limit));
    limitSelect.value = filters.limit;
  }
  const clearButton = h(
    "button",
    {
      type: "button",
      class: "btn btn-ghost",
      onclick: () => applyFilters(filtersFromQuery(new URLSearchParams())),
    },
    "Clear filters",
  );

  const results = h("div", { class: "results" });
  const pager = h("div", { class: "pager" });
  const refresh = h(
    "button",
    { type: "button", class: "btn", onclick: () => load(), title: "Reload this page" },
    "Refresh",
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
          h("h1", null, "Instances"),
          h("p", { class: "muted" }, "Every orchestration instance in this schema."),
        ),
        h(
          "div",
          { class: "page-actions" },
          refresh,
          actionButton(
            "Prune executions…",
            async () => {
              if (await pruneExecutions()) load();
            },
            { action: "prune" },
          ),
        ),
      ),
      h(
        "form",
        { class: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
        field("Search", searchInput),
        field("Status", statusSelect),
        field("Orchestration", nameSelect),
        field("Created from", fromInput),
        field("Created to", toInput),
        field("Sort", sortSelect),
        h("div", { class: "filter filter-end" }, clearButton),
      ),
      h("div", { class: "card table-card" }, results, pager),
    ),
  );

  function applyFilters(next) {
    filters = next;
    cursors = [null];
    statusSelect.value = filters.status;
    nameSelect.value = filters.name;
    fromInput.value = filters.createdFrom;
    toInput.value = filters.createdTo;
    searchInput.value = filters.q;
    sortSelect.value = filters.sort;
    limitSelect.value = filters.limit;
    history.pushState({ cursors }, "", queryFromFilters(filters));
    load();
  }

  const readControls = () => ({
    status: statusSelect.value,
    name: nameSelect.value,
    createdFrom: fromInput.value,
    createdTo: toInput.value,
    q: searchInput.value.trim(),
    sort: sortSelect.value,
    limit: limitSelect.value,
  });
  for (const control of [statusSelect, nameSelect, fromInput, toInput, sortSelect, limitSelect]) {
    control.addEventListener("change", () => applyFilters(readControls()));
  }
  let debounce = null;
  searchInput.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => applyFilters(readControls()), 300);
  });

  api
    .orchestrationNames()
    .then(({ names }) => {
      if (!alive) return;
      for (const name of names) {
        if (name !== filters.name) nameSelect.append(h("option", { value: name }, name));
      }
      nameSelect.value = filters.name;
    })
    .catch(() => {}); // the list still works without the names; the select keeps "Any"

  async function load() {
    const seq = ++requestSeq;
    const cursor = cursors[cursors.length - 1];
    results.setAttribute("aria-busy", "true");
    if (!results.querySelector("table")) mount(results, loadingState("Loading instances…"));
    else results.classList.add("stale");
    try {
      const page = await api.instances({
        status: filters.status,
        name: filters.name,
        createdFrom: localToMs(filters.createdFrom),
        createdTo: localToMs(filters.createdTo),
        q: filters.q,
        sort: filters.sort,
        limit: filters.limit,
        cursor,
      });
      if (!alive || seq !== requestSeq) return;
      rememberState({ cursors });
      renderPage(page);
    } catch (error) {
      if (!alive || seq !== requestSeq) return;
      mount(
        results,
        errorState(error, () => load()),
      );
      mount(pager);
    } finally {
      if (seq === requestSeq) {
        results.removeAttribute("aria-busy");
        results.classList.remove("stale");
      }
    }
  }

  function renderPage(page) {
    const items = page.items ?? [];
    const filtered = Object.entries(filters).some(
      ([key, value]) => value && !(key === "sort" || key === "limit"),
    );
    if (items.length === 0) {
      mount(
        results,
        cursors.length > 1
          ? emptyState("No more instances", "This is past the last page.")
          : filtered
            ? emptyState(
                "No instances match these filters",
                "Widen the filters or clear them.",
                clearButton.cloneNode(true),
              )
            : emptyState(
                "No instances yet",
                "Start an orchestration with a runtime connected to this schema and it appears here.",
              ),
      );
      results
        .querySelector(".state-empty .btn")
        ?.addEventListener("click", () => applyFilters(filtersFromQuery(new URLSearchParams())));
    } else {
      mount(results, instanceTable(items));
    }
    renderPager(page, items.length);
  }

  function renderPager(page, count) {
    const limit = Number(filters.limit);
    const first = (cursors.length - 1) * limit + 1;
    const range = count ? `${first}–${first + count - 1}` : "0";
    const total =
      typeof page.total === "number"
        ? ` of ${page.total.toLocaleString()}`
        : page.totalCapped
          ? " of many (too many to count)"
          : "";
    const previous = h(
      "button",
      { type: "button", class: "btn", "data-page": "previous", disabled: cursors.length <= 1 },
      "← Previous",
    );
    const next = h(
      "button",
      { type: "button", class: "btn", "data-page": "next", disabled: !page.nextCursor },
      "Next →",
    );
    previous.addEventListener("click", () => {
      cursors = cursors.slice(0, -1);
      load();
    });
    next.addEventListener("click", () => {
      cursors = [...cursors, page.nextCursor];
      load();
    });
    mount(
      pager,
      h(
        "span",
        { class: "pager-info muted", "data-range": range },
        `${range}${total}`,
        ` · page ${cursors.length}`,
      ),
      h(
        "span",
        { class: "pager-buttons" },
        h("label", { class: "page-size" }, "Rows per page", limitSelect),
        previous,
        next,
      ),
    );
  }

  load();
  return () => {
    alive = false;
    clearTimeout(debounce);
  };
}

function instanceTable(items) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "table instances" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", null, "Instance"),
          h("th", null, "Orchestration"),
          h("th", null, "Status"),
          h("th", null, "Created"),
          h("th", null, "Updated"),
          h("th", { class: "num", title: "Current execution" }, "Exec."),
          h("th", null, "Parent"),
        ),
      ),
      h(
        "tbody",
        null,
        items.map((item) =>
          h(
            "tr",
            {
              "data-instance": item.instanceId,
              class: "clickable",
              onclick: (event) => {
                if (event.target.closest("a, button") || getSelection()?.toString()) return;
                event.currentTarget.querySelector("a")?.click();
              },
            },
            h(
              "td",
              { class: "id-cell" },
              h(
                "a",
                { href: instanceUrl(item.instanceId), class: "mono", title: item.instanceId },
                item.instanceId,
              ),
            ),
            h(
              "td",
              null,
              item.orchestrationName,
              item.orchestrationVersion && item.orchestrationVersion !== "unknown"
                ? h("span", { class: "version" }, ` v${item.orchestrationVersion}`)
                : null,
            ),
            h("td", null, statusBadge(item.status)),
            h("td", null, timeCell(item.createdAtMs)),
            h("td", null, timeCell(item.updatedAtMs)),
            h("td", { class: "num" }, String(item.currentExecutionId ?? "")),
            h(
              "td",
              { class: "id-cell" },
              item.parentInstanceId
                ? h(
                    "a",
                    { href: instanceUrl(item.parentInstanceId), class: "mono muted-link" },
                    item.parentInstanceId,
                  )
                : h("span", { class: "muted" }, "—"),
            ),
          ),
        ),
      ),
    ),
  );
}
