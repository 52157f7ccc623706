/**
 * Client-side routing with history.pushState: "/" (instance list, filters in the query string),
 * "/instances/<id>" and "/metrics". Every page is a real URL the server answers with index.html, so
 * it can be bookmarked, shared and reloaded.
 */
const routes = [];
let notFoundPage = null;
let current = null; // cleanup of the page on screen
let renderTarget = null;

/** Register a page: `pattern` is a RegExp over the path; `render(ctx)` may return a cleanup function. */
export function route(pattern, render) {
  routes.push({ pattern, render });
}

/** The page for a path no route matches. */
export function notFound(render) {
  notFoundPage = render;
}

export function navigate(url, { replace = false, state = null } = {}) {
  if (replace) history.replaceState(state, "", url);
  else history.pushState(state, "", url);
  dispatch();
}

/** Remember page state (e.g. the list's cursor stack) in the current history entry, for Back. */
export function rememberState(state, url = location.pathname + location.search) {
  history.replaceState(state, "", url);
}

function dispatch() {
  if (typeof current === "function") current();
  current = null;
  const path = location.pathname;
  for (const { pattern, render } of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    const params = match.slice(1).map((part) => decodeURIComponent(part));
    current = render({
      container: renderTarget,
      params,
      query: new URLSearchParams(location.search),
      state: history.state,
    });
    highlightNav(path);
    window.scrollTo(0, 0);
    return;
  }
  current = notFoundPage?.({
    container: renderTarget,
    params: [],
    query: new URLSearchParams(),
    state: null,
  });
}

function highlightNav(path) {
  const section = path.startsWith("/metrics") ? "metrics" : "instances";
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === section);
  }
}

/** Follow same-origin links marked data-link (or any link inside the app) without a page load. */
function interceptClicks(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey)
    return;
  const link = event.target.closest("a[href]");
  if (!link || link.hasAttribute("target") || link.hasAttribute("download")) return;
  // getAttribute, not .href: on an SVG <a> (timeline rows) .href is not a string.
  const url = new URL(link.getAttribute("href"), location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export function startRouter(container) {
  renderTarget = container;
  document.addEventListener("click", interceptClicks);
  window.addEventListener("popstate", dispatch);
  dispatch();
}

/** The URL of an instance's page. */
export function instanceUrl(id) {
  return `/instances/${encodeURIComponent(id)}`;
}
