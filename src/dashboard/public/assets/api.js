/**
 * The dashboard's JSON API (docs/dashboard.md). Every call sends the pgd_token cookie (set when the
 * page was opened with ?token=…) and turns a non-2xx answer into an ApiError carrying the server's
 * `{error}` message.
 */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

const HINTS = {
  401: "Not signed in: open the dashboard with the link `pg-durable dashboard` printed (it carries ?token=…).",
  403: "Not allowed: the dashboard runs with --read-only.",
};

async function request(path, { method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { accept: "application/json" } : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, `The dashboard server did not answer (${error.message}). Is it still running?`);
  }
  const text = await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const message =
      payload?.error ?? HINTS[response.status] ?? `${method} ${path} failed: HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return payload;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const enc = encodeURIComponent;

export const api = {
  config: () => request("/api/config"),
  instances: (params) => request(`/api/instances${query(params)}`),
  orchestrationNames: () => request("/api/orchestration-names"),
  instance: (id) => request(`/api/instances/${enc(id)}`),
  history: (id, execution) => request(`/api/instances/${enc(id)}/history${query({ execution })}`),
  queues: () => request("/api/queues"),
  metrics: (minutes = 60) => request(`/api/metrics${query({ minutes })}`),
  cancel: (id, reason) => request(`/api/instances/${enc(id)}/cancel`, { method: "POST", body: { reason } }),
  raiseEvent: (id, name, data) =>
    request(`/api/instances/${enc(id)}/events`, { method: "POST", body: { name, data } }),
  remove: (id, { force = false } = {}) =>
    request(`/api/instances/${enc(id)}${query({ force: force ? "true" : "" })}`, { method: "DELETE" }),
  prune: (options) => request("/api/prune", { method: "POST", body: options }),
};
