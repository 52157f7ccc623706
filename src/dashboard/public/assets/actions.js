/**
 * Actions that change state (cancel, raise an event, delete, prune). Each one asks first in a
 * <dialog> that says exactly what will happen, then calls the API and reports the outcome in a
 * toast. With --read-only the buttons are rendered disabled (and the server refuses with 403 anyway).
 */
import { api } from "./api.js";
import { h } from "./dom.js";

let readOnly = false;

export function setReadOnly(value) {
  readOnly = Boolean(value);
}

export function isReadOnly() {
  return readOnly;
}

/** A button for an action; disabled, with an explanation, in read-only mode. */
export function actionButton(label, onClick, { tone = "", action } = {}) {
  return h(
    "button",
    {
      type: "button",
      class: `btn ${tone}`,
      "data-action": action,
      disabled: readOnly,
      title: readOnly ? "Disabled: the dashboard runs with --read-only" : null,
      onclick: onClick,
    },
    label,
  );
}

export function toast(message, tone = "ok") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast toast-${tone}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), tone === "error" ? 8000 : 4000);
}

/**
 * Ask for confirmation (and optional fields) in a modal dialog. Resolves with the field values
 * when confirmed, or null when dismissed. `validate(values)` may return an error message to show.
 */
export function confirmDialog({ title, body, confirmLabel, danger = false, fields = [], validate }) {
  return new Promise((resolve) => {
    const inputs = fields.map((field) => {
      const attrs = {
        id: `field-${field.name}`,
        name: field.name,
        placeholder: field.placeholder ?? "",
        required: field.required ?? false,
        type: field.type ?? "text",
        min: field.min,
      };
      const input = field.multiline ? h("textarea", { ...attrs, rows: 5 }) : h("input", attrs);
      input.value = field.value ?? "";
      return { field, input };
    });
    const error = h("p", { class: "dialog-error", role: "alert", hidden: true });
    const confirm = h(
      "button",
      { type: "submit", class: `btn ${danger ? "btn-danger" : "btn-primary"}`, "data-confirm": "" },
      confirmLabel,
    );
    const cancel = h("button", { type: "button", class: "btn", "data-dismiss": "" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", null, title),
      h("div", { class: "dialog-body" }, body),
      inputs.map(({ field, input }) =>
        h(
          "label",
          { class: "field", for: input.id },
          h("span", null, field.label),
          input,
          field.hint ? h("small", { class: "muted" }, field.hint) : null,
        ),
      ),
      error,
      h("div", { class: "dialog-actions" }, cancel, confirm),
    );
    const dialog = h("dialog", { class: "dialog" }, form);
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("close", () => finish(null));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = Object.fromEntries(inputs.map(({ field, input }) => [field.name, input.value.trim()]));
      const problem = validate?.(values);
      if (problem) {
        error.textContent = problem;
        error.hidden = false;
        return;
      }
      finish(values);
    });
    document.body.append(dialog);
    dialog.showModal();
    (inputs[0]?.input ?? confirm).focus();
  });
}

async function run(work, success) {
  try {
    const result = await work();
    toast(typeof success === "function" ? success(result) : success);
    return true;
  } catch (error) {
    toast(error.message, "error");
    return false;
  }
}

const code = (text) => h("code", null, text);

export async function cancelInstance(id) {
  const values = await confirmDialog({
    title: "Cancel this instance?",
    body: h(
      "p",
      null,
      "The runtime stops ",
      code(id),
      " at its next turn: pending activities, timers and sub-orchestrations are cancelled and the instance ends as failed (cancelled). This cannot be undone.",
    ),
    confirmLabel: "Cancel instance",
    danger: true,
    fields: [{ name: "reason", label: "Reason (optional)", placeholder: "e.g. stuck waiting for approval" }],
  });
  if (!values) return false;
  return run(() => api.cancel(id, values.reason || undefined), "Cancellation requested");
}

export async function raiseEvent(id) {
  const values = await confirmDialog({
    title: "Raise an external event",
    body: h("p", null, "Deliver an event to ", code(id), ". An orchestration waiting for this name resumes."),
    confirmLabel: "Raise event",
    fields: [
      { name: "name", label: "Event name", placeholder: "Approval", required: true },
      {
        name: "data",
        label: "Data (JSON)",
        placeholder: '{"approved": true}',
        multiline: true,
        hint: "Any JSON value; leave empty for null.",
      },
    ],
    validate: (v) => {
      if (!v.name) return "The event name is required.";
      if (v.data) {
        try {
          JSON.parse(v.data);
        } catch (error) {
          return `The data is not valid JSON: ${error.message}`;
        }
      }
      return null;
    },
  });
  if (!values) return false;
  const data = values.data ? JSON.parse(values.data) : null;
  return run(() => api.raiseEvent(id, values.name, data), `Event "${values.name}" raised`);
}

/** `running`: the instance has not finished, so the delete is forced (the store refuses otherwise). */
export async function deleteInstance(id, { running = false } = {}) {
  const values = await confirmDialog({
    title: "Delete this instance?",
    body: [
      h(
        "p",
        null,
        "Deletes ",
        code(id),
        " with its whole history, executions, KV entries and queued messages (and its sub-orchestrations). This cannot be undone.",
      ),
      running
        ? h("p", { class: "dialog-warning" }, "It has not finished: it is deleted anyway (a forced delete).")
        : null,
    ],
    confirmLabel: "Delete instance",
    danger: true,
  });
  if (!values) return false;
  return run(() => api.remove(id, { force: running }), "Instance deleted");
}

export async function pruneExecutions() {
  const values = await confirmDialog({
    title: "Prune old executions",
    body: h(
      "p",
      null,
      "Deletes old executions (and their history) of instances that continued as new. Current and running executions and KV values are never touched.",
    ),
    confirmLabel: "Prune",
    danger: true,
    fields: [
      { name: "keepLast", label: "Keep the last N executions", type: "number", min: 1, placeholder: "10" },
      {
        name: "completedBefore",
        label: "Completed before",
        type: "datetime-local",
        hint: "At least one of the two is required.",
      },
    ],
    validate: (v) => {
      if (!v.keepLast && !v.completedBefore) return "Give “keep the last N”, “completed before”, or both.";
      if (v.keepLast && !(Number(v.keepLast) >= 1)) return "“Keep the last N” must be a whole number ≥ 1.";
      return null;
    },
  });
  if (!values) return false;
  const options = {};
  if (values.keepLast) options.keepLast = Number(values.keepLast);
  if (values.completedBefore) options.completedBeforeMs = new Date(values.completedBefore).getTime();
  return run(
    () => api.prune(options),
    (result) =>
      result?.executionsDeleted !== undefined
        ? `Pruned ${result.executionsDeleted} execution(s) of ${result.instancesProcessed ?? "?"} instance(s)`
        : "Prune done",
  );
}
