/**
 * duroxide-node's user guide, second half: Activity Patterns, Activity Sessions, Runtime Options,
 * Metrics, Client Operations, Versioning, Multi-Step Parallel Blocks and Determinism Rules, run
 * against pg-durable/duroxide on PostgreSQL. (Providers: providers.test.ts; Tracing: tracing.test.ts.)
 */

import { type OrchestrationContext, Runtime } from "pg-durable/duroxide";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDuroxideHarness, type DuroxideHarness, eventually } from "./harness.ts";

let h: DuroxideHarness;
beforeAll(async () => {
  h = await createDuroxideHarness("dxguide2");
});
afterAll(async () => {
  await h.close();
});

async function withRuntime(
  register: (runtime: Runtime) => void,
  body: (runtime: Runtime) => Promise<void>,
  options = {},
): Promise<void> {
  const runtime = h.runtime(options);
  register(runtime);
  await runtime.start();
  try {
    await body(runtime);
  } finally {
    await runtime.shutdown(100);
  }
}

describe("user guide: Activity Patterns", () => {
  it("Basic Activity: SendEmail traces and returns { sent: true }", async () => {
    const emailService = {
      sent: [] as unknown[],
      async send(...args: unknown[]) {
        this.sent.push(args);
      },
    };
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("SendEmail", async (ctx, input) => {
          ctx.traceInfo(`sending to ${input.to}`);
          await emailService.send(input.to, input.subject, input.body);
          return { sent: true };
        });
        runtime.registerOrchestration("Notify", function* (ctx, input) {
          return yield ctx.scheduleActivity("SendEmail", input);
        });
      },
      async () => {
        const id = h.id("email");
        await h.client.startOrchestration(id, "Notify", { to: "ann@example.com", subject: "hi", body: "…" });
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toEqual({ sent: true });
        expect(emailService.sent).toEqual([["ann@example.com", "hi", "…"]]);
      },
    );
  });

  it("Activity with Client Access: TriggerCleanup starts CleanupWorkflow", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("TriggerCleanup", async (ctx, input) => {
          const client = ctx.getClient();
          await client.startOrchestration(`cleanup-${input.id}`, "CleanupWorkflow", { resourceId: input.id });
          return { triggered: true };
        });
        // biome-ignore lint/correctness/useYield: an orchestration is a generator even when it schedules nothing
        runtime.registerOrchestration("CleanupWorkflow", function* (_ctx, input) {
          return `cleaned:${input.resourceId}`;
        });
        runtime.registerOrchestration("Trigger", function* (ctx, input) {
          return yield ctx.scheduleActivity("TriggerCleanup", input);
        });
      },
      async () => {
        const id = h.id("trigger");
        await h.client.startOrchestration(id, "Trigger", { id });
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toEqual({ triggered: true });
        const cleanup = await h.client.waitForOrchestration(`cleanup-${id}`, 10_000);
        expect(cleanup.output).toBe(`cleaned:${id}`);
      },
    );
  });

  it("Returning Errors: ValidateInput's throw fails the orchestration with its message", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("ValidateInput", async (_ctx, input) => {
          if (!input.email) {
            throw new Error("email is required");
          }
          return { valid: true };
        });
        runtime.registerOrchestration("Validate", function* (ctx, input) {
          return yield ctx.scheduleActivity("ValidateInput", input);
        });
      },
      async () => {
        const ok = h.id("valid");
        const bad = h.id("invalid");
        await h.client.startOrchestration(ok, "Validate", { email: "a@b.c" });
        await h.client.startOrchestration(bad, "Validate", {});
        expect((await h.client.waitForOrchestration(ok, 10_000)).output).toEqual({ valid: true });
        const failed = await h.client.waitForOrchestration(bad, 10_000);
        expect(failed.status).toBe("Failed");
        expect(failed.error).toContain("email is required");
      },
    );
  });
});

describe("user guide: Activity Sessions", () => {
  it("GameTurn runs both turns on one deterministic session; ctx.sessionId is visible, null otherwise", async () => {
    const seen: (string | null)[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("RunTurn", async (ctx, input) => {
          ctx.traceInfo(`session: ${ctx.sessionId}`); // null for regular activities
          seen.push(ctx.sessionId);
          return `turn-${input.turn}`;
        });
        runtime.registerOrchestration("GameTurn", function* (ctx) {
          const sessionId = yield ctx.newGuid(); // deterministic session ID
          const r1 = yield ctx.scheduleActivityOnSession("RunTurn", { turn: 1 }, sessionId);
          const r2 = yield ctx.scheduleActivityOnSession("RunTurn", { turn: 2 }, sessionId);
          return { r1, r2, sessionId }; // both ran on the same worker
        });
        runtime.registerOrchestration("OptionForm", function* (ctx) {
          const r = yield ctx.scheduleActivity("RunTurn", { turn: 1 }, { sessionId: "my-session" });
          const plain = yield ctx.scheduleActivity("RunTurn", { turn: 3 });
          return [r, plain];
        });
      },
      async () => {
        const game = h.id("game");
        await h.client.startOrchestration(game, "GameTurn", null);
        const out = (await h.client.waitForOrchestration(game, 10_000)).output as {
          r1: string;
          r2: string;
          sessionId: string;
        };
        expect(out).toMatchObject({ r1: "turn-1", r2: "turn-2" });
        expect(out.sessionId).toHaveLength(36);
        expect(seen).toEqual([out.sessionId, out.sessionId]);

        const option = h.id("option");
        await h.client.startOrchestration(option, "OptionForm", null);
        expect((await h.client.waitForOrchestration(option, 10_000)).output).toEqual(["turn-1", "turn-3"]);
        expect(seen.slice(2)).toEqual(["my-session", null]);
      },
    );
  });

  it("Session Runtime Options: maxSessionsPerRuntime, sessionIdleTimeoutMs and workerNodeId are taken", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("RunTurn", async (ctx) => ctx.workerId);
        runtime.registerOrchestration("OneTurn", function* (ctx) {
          return yield ctx.scheduleActivityOnSession("RunTurn", null, "s");
        });
      },
      async () => {
        const id = h.id("session-options");
        await h.client.startOrchestration(id, "OneTurn", null);
        const status = await h.client.waitForOrchestration(id, 10_000);
        expect(status.status).toBe("Completed");
        expect(String(status.output)).toContain("pod-name");
      },
      {
        maxSessionsPerRuntime: 10, // Max concurrent sessions (default: 10)
        sessionIdleTimeoutMs: 300_000, // Session unpin after idle (default: 5 min)
        workerNodeId: "pod-name", // Stable identity for session ownership
      },
    );
  });
});

describe("user guide: Runtime Options and Metrics", () => {
  it("the guide's option set is accepted and the runtime works with it", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Echo", async (_ctx, input) => input);
        runtime.registerOrchestration("Opts", function* (ctx, input) {
          return yield ctx.scheduleActivity("Echo", input);
        });
      },
      async () => {
        const id = h.id("opts");
        await h.client.startOrchestration(id, "Opts", "x");
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe("x");
      },
      {
        orchestrationConcurrency: 4, // Max concurrent orchestration dispatches
        workerConcurrency: 8, // Max concurrent activity workers
        dispatcherPollInterval: 100, // Polling interval in ms
        logLevel: "off", // (the guide: 'info'; off keeps test output clean)
        logFormat: "pretty", // 'pretty' or 'json'
        serviceName: "my-service", // Service name for tracing metadata
        serviceVersion: "1.0.0", // Service version for tracing metadata
        maxSessionsPerRuntime: 10, // Max concurrent sessions per runtime
        sessionIdleTimeoutMs: 300_000, // Session idle timeout in ms (5 min)
        workerNodeId: "pod-1", // Stable worker identity for sessions
      },
    );
  });

  it("bad option values are refused with the option's name", () => {
    expect(() => new Runtime(h.provider, { logFormat: "xml" })).toThrow(
      /logFormat must be one of compact, pretty, json/,
    );
    expect(() => new Runtime(h.provider, { logLevel: "loud" })).toThrow(/logLevel must be one of/);
  });

  it("metricsSnapshot counts starts, completions and activity successes", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Work", async () => 1);
        runtime.registerOrchestration("Metered", function* (ctx) {
          return yield ctx.scheduleActivity("Work", null);
        });
      },
      async (runtime) => {
        const id = h.id("metered");
        await h.client.startOrchestration(id, "Metered", null);
        await h.client.waitForOrchestration(id, 10_000);
        const snapshot = runtime.metricsSnapshot();
        if (snapshot) {
          expect(snapshot.orchStarts).toBeGreaterThanOrEqual(1);
          expect(snapshot.orchCompletions).toBeGreaterThanOrEqual(1);
          expect(snapshot.activitySuccess).toBeGreaterThanOrEqual(1);
          expect(snapshot.providerErrors).toBe(0);
        }
        expect(snapshot).not.toBeNull();
        expect(Object.keys(snapshot).sort()).toEqual(
          [
            "orchStarts",
            "orchCompletions",
            "orchFailures",
            "orchApplicationErrors",
            "orchInfrastructureErrors",
            "orchConfigurationErrors",
            "orchPoison",
            "activitySuccess",
            "activityAppErrors",
            "activityInfraErrors",
            "activityConfigErrors",
            "activityPoison",
            "orchDispatcherItemsFetched",
            "workerDispatcherItemsFetched",
            "orchContinueAsNew",
            "suborchestrationCalls",
            "providerErrors",
          ].sort(),
        );
      },
    );
  });
});

describe("user guide: Client Operations", () => {
  it("runs every call of the guide's client block", async () => {
    const { client } = h;
    // One body for both versions: it waits for an event and a queue message, then reports.
    // biome-ignore lint/suspicious/noExplicitAny: what a yield gives back depends on the task yielded
    const workflow = function* (ctx: OrchestrationContext, input: unknown): Generator<unknown, unknown, any> {
      ctx.setCustomStatus("waiting");
      const data = yield ctx.waitForEvent("eventName");
      const queued = yield ctx.dequeueEvent("queueName");
      return { input, data, queued: JSON.parse(queued), version: ctx.orchestrationVersion };
    };
    await withRuntime(
      (runtime) => {
        runtime.registerOrchestration("WorkflowName", workflow);
        runtime.registerOrchestrationVersioned("WorkflowName", "1.0.2", workflow);
      },
      async () => {
        const id = h.id("client");
        const pinned = h.id("client-pinned");
        // Start an orchestration (the latest version), and one pinned to a version
        await client.startOrchestration(id, "WorkflowName", { n: 1 });
        await client.startOrchestrationVersioned(pinned, "WorkflowName", { n: 2 }, "1.0.0");

        // Cancel a running orchestration (the guide's name for cancelInstance)
        await eventually(async () => (await client.getStatus(pinned)).status === "Running");
        expect((await client.getInstanceInfo(pinned)).orchestrationVersion).toBe("1.0.0");
        await client.cancelOrchestration(pinned);

        // Wait for completion (with timeout in ms)
        const cancelled = await client.waitForOrchestration(pinned, 30000);
        expect(cancelled.status).toBe("Failed");
        expect(cancelled.customStatus).toBe("waiting");

        // Raise an event once the instance waits for it
        await eventually(async () =>
          (await client.readExecutionHistory(id, 1)).some((e) => e.kind === "ExternalSubscribed"),
        );
        await client.raiseEvent(id, "eventName", { ok: true });

        // Get status without waiting (the guide's name for getStatus)
        const status = await client.getOrchestrationStatus(id);
        expect(status.status).toBe("Running");
        expect(status.customStatus).toBe("waiting");

        // Event queues
        const data = { item: 42 };
        await client.enqueueEvent(id, "queueName", JSON.stringify(data));

        // Custom status polling
        const change = await client.waitForStatusChange(id, 0, 100, 30000);
        expect(change.customStatus).toBe("waiting");
        expect(change.customStatusVersion).toBeGreaterThanOrEqual(1);

        const done = await client.waitForOrchestration(id, 10_000);
        expect(done.output).toEqual({ input: { n: 1 }, data: { ok: true }, queued: data, version: "1.0.2" });

        // Admin operations
        const removed = await client.deleteInstance(id, { force: false });
        expect(removed.instancesDeleted).toBe(1);
        expect((await client.getStatus(id)).status).toBe("NotFound");
        const metrics = await client.getSystemMetrics();
        expect(metrics.totalInstances).toBeGreaterThanOrEqual(1);
        const stats = await client.getOrchestrationStats(pinned);
        expect(stats?.historyEventCount).toBeGreaterThanOrEqual(2);
        const depths = await client.getQueueDepths();
        expect(depths).toEqual({ orchestratorQueue: expect.any(Number), workerQueue: 0, timerQueue: 0 });
      },
    );
  });
});

describe("user guide: Versioning", () => {
  it("new instances take the latest version (1.0.1 validates first)", async () => {
    const calls: string[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Validate", async () => {
          calls.push("Validate");
          return true;
        });
        runtime.registerActivity("Work", async (_ctx, input) => {
          calls.push("Work");
          return `work:${input}`;
        });
        runtime.registerOrchestration("MyWorkflow", function* (ctx, input) {
          // v1.0.0 — original
          const r = yield ctx.scheduleActivity("Work", input);
          return r;
        });
        runtime.registerOrchestrationVersioned("MyWorkflow", "1.0.1", function* (ctx, input) {
          // v1.0.1 — with validation
          yield ctx.scheduleActivity("Validate", input);
          const r = yield ctx.scheduleActivity("Work", input);
          return r;
        });
      },
      async () => {
        const id = h.id("versioned");
        await h.client.startOrchestration(id, "MyWorkflow", "a");
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe("work:a");
        expect(calls).toEqual(["Validate", "Work"]);
        expect((await h.client.getInstanceInfo(id)).orchestrationVersion).toBe("1.0.1");
      },
    );
  });
});

describe("user guide: Multi-Step Parallel Blocks", () => {
  it("Parent joins BlockA and BlockB sub-orchestrations", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Step", async (_ctx, name) => `step-${name}`);
        runtime.registerOrchestration("BlockA", function* (ctx) {
          const first = yield ctx.scheduleActivity("Step", "A1");
          if (first.includes("step")) {
            const second = yield ctx.scheduleActivity("Step", "A2");
            return `A:[${first},${second}]`;
          }
          return "A:fallback";
        });
        runtime.registerOrchestration("BlockB", function* (ctx) {
          yield ctx.scheduleTimer(5);
          const result = yield ctx.scheduleActivity("Step", "B1");
          return `B:[timer,${result}]`;
        });
        // Parent: join/race sub-orchestration descriptors
        runtime.registerOrchestration("Parent", function* (ctx) {
          // Join multiple multi-step blocks
          const [a, b] = yield ctx.all([
            ctx.scheduleSubOrchestration("BlockA", ""),
            ctx.scheduleSubOrchestration("BlockB", ""),
          ]);
          return `${a.ok},${b.ok}`;
        });
      },
      async () => {
        const id = h.id("blocks");
        await h.client.startOrchestration(id, "Parent", null);
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe(
          "A:[step-A1,step-A2],B:[timer,step-B1]",
        );
      },
    );
  });
});

describe("user guide: Determinism Rules", () => {
  it("yield ctx.utcNow() and yield ctx.newGuid() give values that replay identically", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerOrchestration("Deterministic", function* (ctx) {
          const now = yield ctx.utcNow();
          const guid = yield ctx.newGuid();
          yield ctx.scheduleTimer(10); // forces a second turn, which replays the two calls
          const again = [now, guid];
          return { now, guid, again };
        });
      },
      async () => {
        const before = Date.now();
        const id = h.id("deterministic");
        await h.client.startOrchestration(id, "Deterministic", null);
        const out = (await h.client.waitForOrchestration(id, 10_000)).output as {
          now: number;
          guid: string;
          again: [number, string];
        };
        expect(out.now).toBeGreaterThanOrEqual(before - 1000);
        expect(out.guid).toHaveLength(36);
        expect(out.again).toEqual([out.now, out.guid]);
      },
    );
  });
});
