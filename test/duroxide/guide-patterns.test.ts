/**
 * Every orchestration example of duroxide-node's user guide ("Minimal Example" and
 * "Orchestration Patterns"), run against pg-durable/duroxide on PostgreSQL. The orchestration and
 * activity code is the guide's; where the guide waits an hour or loops forever, the test shortens
 * the timer or stops the instance, and says so.
 */

import { type Runtime, SqliteProvider } from "pg-durable/duroxide";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDuroxideHarness, type DuroxideHarness, eventually, sleep } from "./harness.ts";

let h: DuroxideHarness;
beforeAll(async () => {
  h = await createDuroxideHarness("dxguide");
});
afterAll(async () => {
  await h.close();
});

/** Register, start, run the body, always shut down. */
async function withRuntime(register: (runtime: Runtime) => void, body: () => Promise<void>): Promise<void> {
  const runtime = h.runtime();
  register(runtime);
  await runtime.start();
  try {
    await body();
  } finally {
    await runtime.shutdown(100);
  }
}

describe("user guide: Minimal Example", () => {
  it("SqliteProvider.inMemory() says it is not available and what to use", async () => {
    await expect(SqliteProvider.inMemory()).rejects.toThrow(
      /not available in pg-durable.*PostgresProvider\.connectWithSchema/s,
    );
  });

  it("HelloWorkflow returns 'Hello, World!' (on PostgresProvider)", async () => {
    const { provider, client } = h;
    const runtime = h.runtime();
    runtime.registerActivity("SayHello", async (_ctx, name) => {
      return `Hello, ${name}!`;
    });
    runtime.registerOrchestration("HelloWorkflow", function* (ctx, input) {
      const greeting = yield ctx.scheduleActivity("SayHello", input.name);
      return greeting;
    });
    await runtime.start();
    const id = h.id("hello");
    await client.startOrchestration(id, "HelloWorkflow", { name: "World" });
    const result = await client.waitForOrchestration(id);
    expect(result.output).toBe("Hello, World!");
    await runtime.shutdown();
    expect(provider).toBeDefined();
  });
});

describe("user guide: Orchestration Patterns", () => {
  it("Sequential Steps: Pipeline feeds each step's result to the next", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Extract", async (_ctx, input) => `${input}|e`);
        runtime.registerActivity("Transform", async (_ctx, input) => `${input}|t`);
        runtime.registerActivity("Load", async (_ctx, input) => `${input}|l`);
        runtime.registerOrchestration("Pipeline", function* (ctx, input) {
          const step1 = yield ctx.scheduleActivity("Extract", input);
          const step2 = yield ctx.scheduleActivity("Transform", step1);
          const step3 = yield ctx.scheduleActivity("Load", step2);
          return step3;
        });
      },
      async () => {
        const id = h.id("pipeline");
        await h.client.startOrchestration(id, "Pipeline", "src");
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe("src|e|t|l");
      },
    );
  });

  it("Fan-Out / Fan-In: ctx.all returns { ok } per item in order", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("ProcessItem", async (_ctx, item) => item * 10);
        runtime.registerOrchestration("FanOut", function* (ctx, input) {
          const tasks = input.items.map((item: number) => ctx.scheduleActivity("ProcessItem", item));
          const results = yield ctx.all(tasks);
          return results;
        });
      },
      async () => {
        const id = h.id("fanout");
        await h.client.startOrchestration(id, "FanOut", { items: [1, 2, 3] });
        const status = await h.client.waitForOrchestration(id, 10_000);
        expect(status.output).toEqual([{ ok: 10 }, { ok: 20 }, { ok: 30 }]);
      },
    );
  });

  it("Fan-Out / Fan-In: MixedAll of activity, timer and event wait", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Work", async (_ctx, input) => `worked:${input}`);
        runtime.registerOrchestration("MixedAll", function* (ctx, input) {
          const [actResult, _, eventData] = yield ctx.all([
            ctx.scheduleActivity("Work", input),
            ctx.scheduleTimer(100), // the guide waits 1000 ms; timers return { ok: null }
            ctx.waitForEvent("approval"), // waits return { ok: eventData }
          ]);
          expect(_).toEqual({ ok: null });
          expect(eventData).toEqual({ ok: { by: "ann" } });
          return actResult;
        });
      },
      async () => {
        const id = h.id("mixedall");
        await h.client.startOrchestration(id, "MixedAll", "x");
        await eventually(async () => (await h.client.getStatus(id)).status === "Running");
        await sleep(200); // the subscription is recorded in the first turn
        await h.client.raiseEvent(id, "approval", { by: "ann" });
        const status = await h.client.waitForOrchestration(id, 10_000);
        expect(status.status).toBe("Completed");
        expect(status.output).toEqual({ ok: "worked:x" });
      },
    );
  });

  it("Race / Select: the fast service wins over the timeout, a slow one loses to it", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("FastService", async (_ctx, input) => {
          if (input === "slow") await sleep(1500);
          return `fast:${input}`;
        });
        runtime.registerOrchestration("RaceExample", function* (ctx, input) {
          const winner = yield ctx.race(
            ctx.scheduleActivity("FastService", input),
            ctx.scheduleTimer(input === "slow" ? 100 : 5000), // the guide's 5 s timeout
          );
          if (winner.index === 0) {
            return winner.value; // FastService completed first
          }
          return "timed out";
        });
      },
      async () => {
        const fast = h.id("race-fast");
        const slow = h.id("race-slow");
        await h.client.startOrchestration(fast, "RaceExample", "quick");
        await h.client.startOrchestration(slow, "RaceExample", "slow");
        expect((await h.client.waitForOrchestration(fast, 10_000)).output).toBe("fast:quick");
        expect((await h.client.waitForOrchestration(slow, 10_000)).output).toBe("timed out");
      },
    );
  });

  it("Durable Timers: DelayedNotification waits, then sends the reminder", async () => {
    const sent: unknown[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("SendReminder", async (_ctx, input) => {
          sent.push(input);
          return null;
        });
        runtime.registerOrchestration("DelayedNotification", function* (ctx, input) {
          yield ctx.scheduleTimer(200); // the guide waits 60 * 60 * 1000 ms
          yield ctx.scheduleActivity("SendReminder", input);
          return "done";
        });
      },
      async () => {
        const id = h.id("delayed");
        const started = Date.now();
        await h.client.startOrchestration(id, "DelayedNotification", { to: "ann" });
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe("done");
        expect(Date.now() - started).toBeGreaterThanOrEqual(200);
        expect(sent).toEqual([{ to: "ann" }]);
      },
    );
  });

  it("External Events: ApprovalWorkflow takes the approved and the rejected path", async () => {
    const executed: unknown[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("RequestApproval", async () => null);
        runtime.registerActivity("Execute", async (_ctx, input) => {
          executed.push(input);
          return null;
        });
        runtime.registerOrchestration("ApprovalWorkflow", function* (ctx, input) {
          yield ctx.scheduleActivity("RequestApproval", input);
          ctx.traceInfo("waiting for approval...");

          const approval = yield ctx.waitForEvent("approval");

          if (approval.approved) {
            yield ctx.scheduleActivity("Execute", input);
            return "approved";
          }
          return "rejected";
        });
      },
      async () => {
        const yes = h.id("approve");
        const no = h.id("reject");
        await h.client.startOrchestration(yes, "ApprovalWorkflow", "order-1");
        await h.client.startOrchestration(no, "ApprovalWorkflow", "order-2");
        // Raise once each instance waits (an event raised before the wait is recorded is dropped).
        for (const id of [yes, no]) {
          await eventually(async () =>
            (await h.client.readExecutionHistory(id, 1)).some((e) => e.kind === "ExternalSubscribed"),
          );
        }
        await h.client.raiseEvent(yes, "approval", { approved: true });
        await h.client.raiseEvent(no, "approval", { approved: false });
        expect((await h.client.waitForOrchestration(yes, 10_000)).output).toBe("approved");
        expect((await h.client.waitForOrchestration(no, 10_000)).output).toBe("rejected");
        expect(executed).toEqual(["order-1"]);
      },
    );
  });

  it("Sub-Orchestrations: Parent gets Child's result, also with an explicit child id", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("DoWork", async (_ctx, input) => ({ did: input.id }));
        runtime.registerOrchestration("Parent", function* (ctx, input) {
          const childResult = yield ctx.scheduleSubOrchestration("Child", input);
          return { parentResult: childResult };
        });
        runtime.registerOrchestration("Child", function* (ctx, input) {
          const r = yield ctx.scheduleActivity("DoWork", input);
          return r;
        });
        runtime.registerOrchestration("ParentWithId", function* (ctx, input) {
          const result = yield ctx.scheduleSubOrchestrationWithId("Child", `child-${input.id}`, input);
          return result;
        });
      },
      async () => {
        const parent = h.id("parent");
        await h.client.startOrchestration(parent, "Parent", { id: 7 });
        expect((await h.client.waitForOrchestration(parent, 10_000)).output).toEqual({
          parentResult: { did: 7 },
        });
        const withId = h.id("parent-id");
        const childId = `child-${withId}`;
        await h.client.startOrchestration(withId, "ParentWithId", { id: withId });
        expect((await h.client.waitForOrchestration(withId, 10_000)).output).toEqual({ did: withId });
        expect((await h.client.getStatus(childId)).status).toBe("Completed");
      },
    );
  });

  it("Fire-and-Forget: CreateInstance returns while InstanceMonitor runs on its own", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("ProvisionVM", async () => "vm");
        runtime.registerOrchestration("CreateInstance", function* (ctx, input) {
          yield ctx.scheduleActivity("ProvisionVM", input);

          // Launch monitor — runs independently
          yield ctx.startOrchestration("InstanceMonitor", `monitor-${input.instanceId}`, {
            instanceId: input.instanceId,
          });

          return { status: "provisioned" };
        });
        runtime.registerOrchestration("InstanceMonitor", function* (ctx, input) {
          yield ctx.waitForEvent("stop");
          return `monitored:${input.instanceId}`;
        });
      },
      async () => {
        const id = h.id("create");
        const instanceId = h.id("vm");
        await h.client.startOrchestration(id, "CreateInstance", { instanceId });
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toEqual({ status: "provisioned" });
        const monitor = `monitor-${instanceId}`;
        // The monitor's start is a message of its own: it runs once a turn picks it up.
        await eventually(async () =>
          (await h.client.readExecutionHistory(monitor, 1)).some((e) => e.kind === "ExternalSubscribed"),
        );
        await h.client.raiseEvent(monitor, "stop", null);
        expect((await h.client.waitForOrchestration(monitor, 10_000)).output).toBe(`monitored:${instanceId}`);
      },
    );
  });

  it("Continue-as-New: Monitor restarts with its state until cancelled", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("CheckHealth", async () => ({ status: "healthy" }));
        runtime.registerOrchestration("Monitor", function* (ctx, input) {
          const state = input.state || { checkCount: 0 };

          // Do periodic work
          const health = yield ctx.scheduleActivity("CheckHealth", input.target);
          ctx.traceInfo(`health check #${state.checkCount}: ${health.status}`);

          // Wait before next check
          yield ctx.scheduleTimer(20); // the guide waits 30 seconds

          // Restart with updated state (keeps history from growing unbounded)
          yield ctx.continueAsNew({
            target: input.target,
            state: { checkCount: state.checkCount + 1 },
          });
        });
      },
      async () => {
        const id = h.id("monitor");
        await h.client.startOrchestration(id, "Monitor", { target: "db-1" });
        // The guide's monitor never ends: wait for the third execution, then stop it.
        await eventually(async () => (await h.client.listExecutions(id)).length >= 3);
        const third = await h.client.readExecutionHistory(id, 3);
        expect(JSON.parse(third[0]!.data!)).toMatchObject({
          name: "Monitor",
          input: { target: "db-1", state: { checkCount: 2 } },
        });
        await h.client.cancelInstance(id, "test over");
        const status = await h.client.waitForOrchestration(id, 10_000);
        expect(status.status).toBe("Failed");
        expect(status.error).toContain("test over");
      },
    );
  });

  it("Error Handling: SafeWorkflow catches the failure and runs Cleanup", async () => {
    const cleaned: unknown[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("RiskyCall", async () => {
          throw new Error("upstream refused");
        });
        runtime.registerActivity("Cleanup", async (_ctx, input) => {
          cleaned.push(input);
          return null;
        });
        runtime.registerOrchestration("SafeWorkflow", function* (ctx, input) {
          try {
            const result = yield ctx.scheduleActivity("RiskyCall", input);
            return result;
          } catch (error) {
            const e = error as Error;
            ctx.traceError(`activity failed: ${e.message}`);
            yield ctx.scheduleActivity("Cleanup", { error: e.message });
            return { status: "failed", error: e.message };
          }
        });
      },
      async () => {
        const id = h.id("safe");
        await h.client.startOrchestration(id, "SafeWorkflow", {});
        const status = await h.client.waitForOrchestration(id, 10_000);
        expect(status.output).toEqual({ status: "failed", error: "upstream refused" });
        expect(cleaned).toEqual([{ error: "upstream refused" }]);
      },
    );
  });

  it("Retry Policies: FlakeyApi succeeds on the third of three attempts", async () => {
    let calls = 0;
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("FlakeyApi", async () => {
          calls++;
          if (calls < 3) throw new Error(`flake ${calls}`);
          return "ok";
        });
        runtime.registerOrchestration("Retrying", function* (ctx, input) {
          const result = yield ctx.scheduleActivityWithRetry("FlakeyApi", input, {
            maxAttempts: 3,
            backoff: "exponential",
            timeoutMs: 5000, // per-attempt timeout
            totalTimeoutMs: 30000, // total timeout across all attempts
          });
          return result;
        });
      },
      async () => {
        const id = h.id("retry");
        await h.client.startOrchestration(id, "Retrying", null);
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe("ok");
        expect(calls).toBe(3);
      },
    );
  });

  it("Custom Status: LongProcess progress is seen by a client polling waitForStatusChange", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Validate", async () => {
          await sleep(150);
          return true;
        });
        runtime.registerActivity("Process", async (_ctx, input) => {
          await sleep(150);
          return `processed:${input}`;
        });
        runtime.registerOrchestration("LongProcess", function* (ctx, input) {
          ctx.setCustomStatus("step 1: validating");
          yield ctx.scheduleActivity("Validate", input);

          ctx.setCustomStatus("step 2: processing");
          const result = yield ctx.scheduleActivity("Process", input);

          ctx.setCustomStatus("step 3: complete");
          return result;
        });
      },
      async () => {
        const instanceId = h.id("long");
        await h.client.startOrchestration(instanceId, "LongProcess", "job");
        // The guide's loop, ended when the instance finishes (waitForStatusChange then returns the
        // terminal status at once, so the guide's `while (true)` would not end on its own).
        const seen: string[] = [];
        let lastVersion = 0;
        while (true) {
          const change = await h.client.waitForStatusChange(instanceId, lastVersion, 100, 30000);
          if (!change) break;
          if (change.customStatus && change.customStatusVersion > lastVersion) seen.push(change.customStatus);
          lastVersion = change.customStatusVersion;
          if (change.status === "Completed" || change.status === "Failed") break;
        }
        expect(seen).toContain("step 1: validating");
        expect(seen.at(-1)).toBe("step 3: complete");
        const done = await h.client.waitForOrchestration(instanceId, 10_000);
        expect(done).toMatchObject({ output: "processed:job", customStatus: "step 3: complete" });
        expect(done.customStatusVersion).toBeGreaterThanOrEqual(3);
      },
    );
  });

  it("Custom Status: resetCustomStatus clears it back to null", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerOrchestration("ResetStatus", function* (ctx) {
          ctx.setCustomStatus("busy");
          yield ctx.scheduleTimer(10);
          ctx.resetCustomStatus();
          return ctx.getCustomStatus();
        });
      },
      async () => {
        const id = h.id("reset");
        await h.client.startOrchestration(id, "ResetStatus", null);
        const status = await h.client.waitForOrchestration(id, 10_000);
        expect(status.output).toBeNull();
        expect(status.customStatus).toBeUndefined();
      },
    );
  });

  it("Event Queues: WorkProcessor takes tasks FIFO across continue-as-new", async () => {
    const processed: unknown[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("ProcessTask", async (_ctx, task) => {
          processed.push(task);
          return `${task.type}d`;
        });
        runtime.registerOrchestration("WorkProcessor", function* (ctx) {
          // Block until a message arrives on the 'tasks' queue
          const taskJson = yield ctx.dequeueEvent("tasks");
          const task = JSON.parse(taskJson);

          const result = yield ctx.scheduleActivity("ProcessTask", task);
          ctx.setCustomStatus(JSON.stringify({ done: task.id, result }));

          // Loop forever by restarting — queue state survives
          return yield ctx.continueAsNew("");
        });
      },
      async () => {
        const instanceId = h.id("queue");
        await h.client.startOrchestration(instanceId, "WorkProcessor", null);
        // Send work from outside
        await h.client.enqueueEvent(instanceId, "tasks", JSON.stringify({ id: 1, type: "resize" }));
        await h.client.enqueueEvent(instanceId, "tasks", JSON.stringify({ id: 2, type: "compress" }));
        const last = await eventually(async () => {
          const s = await h.client.getStatus(instanceId);
          return s.customStatus && JSON.parse(s.customStatus).done === 2 ? s : null;
        });
        expect(JSON.parse(last.customStatus!)).toEqual({ done: 2, result: "compressd" });
        expect(processed).toEqual([
          { id: 1, type: "resize" },
          { id: 2, type: "compress" },
        ]);
        await h.client.cancelInstance(instanceId);
      },
    );
  });

  it("Retry with Session Affinity: all attempts run on the session", async () => {
    const sessions: (string | null)[] = [];
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("StatefulOperation", async (ctx, input) => {
          sessions.push(ctx.sessionId);
          if (sessions.length < 2) throw new Error("cache cold");
          return `warm:${input}`;
        });
        runtime.registerOrchestration("SessionRetry", function* (ctx, input) {
          const sessionId = `session-${input}`;
          const result = yield ctx.scheduleActivityWithRetryOnSession(
            "StatefulOperation",
            input,
            {
              maxAttempts: 3,
              backoff: "exponential",
              timeoutMs: 5000,
              totalTimeoutMs: 30000,
            },
            sessionId,
          );
          return result;
        });
      },
      async () => {
        const id = h.id("session-retry");
        await h.client.startOrchestration(id, "SessionRetry", "s1");
        expect((await h.client.waitForOrchestration(id, 10_000)).output).toBe("warm:s1");
        expect(sessions).toEqual(["session-s1", "session-s1"]);
      },
    );
  });

  it("Real-World Pattern: the multi-turn ChatBot replies through custom status until 'bye'", async () => {
    await withRuntime(
      (runtime) => {
        runtime.registerActivity("Generate", async (_ctx, text) => `echo: ${text}`);
        runtime.registerOrchestration("ChatBot", function* (ctx) {
          // Wait for the next user message
          const msgJson = yield ctx.dequeueEvent("inbox");
          const msg = JSON.parse(msgJson);

          // Generate a response
          const response = yield ctx.scheduleActivity("Generate", msg.text);

          // Publish the reply via custom status
          ctx.setCustomStatus(JSON.stringify({ state: "replied", response, seq: msg.seq }));

          // End conversation on "bye"
          if (msg.text.includes("bye")) return `Done after ${msg.seq} msgs`;

          // Otherwise loop — queue state and status survive continue-as-new
          return yield ctx.continueAsNew("");
        });
      },
      async () => {
        const instanceId = h.id("chat");
        await h.client.startOrchestration(instanceId, "ChatBot", null);
        // Client side: send a message and wait for the reply
        await h.client.enqueueEvent(instanceId, "inbox", JSON.stringify({ seq: 1, text: "Hello!" }));
        const status = await h.client.waitForStatusChange(instanceId, 0, 50, 10000);
        const reply = JSON.parse(status.customStatus!);
        expect(reply.response).toBe("echo: Hello!");

        await h.client.enqueueEvent(instanceId, "inbox", JSON.stringify({ seq: 2, text: "bye" }));
        const done = await h.client.waitForOrchestration(instanceId, 10_000);
        expect(done.output).toBe("Done after 2 msgs");
        expect(JSON.parse(done.customStatus!)).toEqual({ state: "replied", response: "echo: bye", seq: 2 });
      },
    );
  });
});
