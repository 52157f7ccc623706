/**
 * In-process instance wake-ups: a client waiting for an instance (its completion, a custom status,
 * a KV value) is woken as soon as an ack through the same provider object changes it, instead of
 * at its next re-read. Changes made by other processes are seen at the client's next re-read.
 *
 * Watch *before* reading the instance, and wait only if the read did not show what was wanted:
 * a change that lands between the read and the wait then ends the wait at once.
 */
import type { InstanceWatch } from "./types.ts";

export class InstanceWatches {
  private readonly watchers = new Map<string, Set<() => void>>();

  watch(instance: string): InstanceWatch {
    let changed = false;
    let wake: (() => void) | null = null;
    const onChange = () => {
      changed = true;
      wake?.();
    };
    let set = this.watchers.get(instance);
    if (!set) {
      set = new Set();
      this.watchers.set(instance, set);
    }
    set.add(onChange);
    const cancel = () => {
      const current = this.watchers.get(instance);
      current?.delete(onChange);
      if (current?.size === 0) this.watchers.delete(instance);
    };
    return {
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (changed || ms <= 0 || signal?.aborted) {
            cancel();
            resolve();
            return;
          }
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            cancel();
            resolve();
          };
          const timer = setTimeout(done, ms);
          wake = done;
          signal?.addEventListener("abort", done, { once: true });
        }),
      cancel,
    };
  }

  /** `instance` changed: end every wait on it. */
  changed(instance: string): void {
    const set = this.watchers.get(instance);
    if (!set) return;
    for (const onChange of [...set]) onChange();
  }
}
