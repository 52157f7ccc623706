/**
 * Structured logs (docs/observability.md "Structured logs"): the JSON format writes the instance,
 * execution, orchestration and activity as fields; an injected logger gets them as its second
 * argument (winston's shape), a message-only logger keeps working, fieldsFirst() serves pino's
 * shape; and replayed turns log nothing.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fieldsFirst, type LogFields, type Logger } from "../../src/runtime/logger.ts";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_logs");
});

afterAll(async () => {
  await h?.close();
});

/** Logs once before and once after its activity: two turns, so the first line is replayed once. */
function register(runtime: Runtime): Runtime {
  runtime.registerActivity("Shout", async (ctx, word: string) => {
    ctx.traceInfo(`shouting ${word}`);
    return word.toUpperCase();
  });
  runtime.registerOrchestration("Chatty", function* (ctx, word: string) {
    ctx.traceInfo("before the activity");
    const loud: string = yield ctx.scheduleActivity("Shout", word);
    ctx.traceInfo(`after the activity: ${loud}`);
    return loud;
  });
  return runtime;
}

interface Line {
  level: string;
  message: string;
  fields: LogFields | undefined;
}

/** A winston-shaped logger: `info(message, meta)`. */
function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) =>
    lines.push({ level, message, fields });
  return { logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, lines };
}

describe("structured logs", () => {
  it("writes instanceId, executionId, orchestrationName and activityId as JSON fields", async () => {
    const out: string[] = [];
    const spy = vi.spyOn(console, "info").mockImplementation((line: string) => {
      out.push(line);
    });
    try {
      // The default logger binds console.info when it is created: the spy must come first.
      const rt = register(h.runtime({ logFormat: "json", logLevel: "info" }));
      await rt.start();
      await h.client.startOrchestration("logs-json", "Chatty", "hi");
      expect(await h.client.waitForOrchestration("logs-json", 30_000)).toMatchObject({ output: "HI" });
      await rt.shutdown(2000);
    } finally {
      spy.mockRestore();
    }
    const lines = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    const orchestration = lines.find((l) => String(l.message).endsWith("before the activity"));
    expect(orchestration).toMatchObject({
      level: "INFO",
      instanceId: "logs-json",
      executionId: 1,
      orchestrationName: "Chatty",
    });
    const activity = lines.find((l) => String(l.message).endsWith("shouting hi"));
    expect(activity).toMatchObject({
      level: "INFO",
      instanceId: "logs-json",
      executionId: 1,
      orchestrationName: "Chatty",
      activityId: expect.any(Number),
      activityName: "Shout",
    });
  });

  it("logs nothing from replayed code: each orchestration line appears once", async () => {
    const { logger, lines } = capture();
    const rt = register(h.runtime({ logger }));
    await rt.start();
    await h.client.startOrchestration("logs-replay", "Chatty", "yo");
    expect(await h.client.waitForOrchestration("logs-replay", 30_000)).toMatchObject({ output: "YO" });
    await rt.shutdown(2000);
    const mine = lines.filter((l) => l.fields?.instanceId === "logs-replay");
    // Two turns ran; the second replayed "before the activity" silently.
    expect(mine.filter((l) => l.message.endsWith("before the activity"))).toHaveLength(1);
    expect(mine.filter((l) => l.message.endsWith("after the activity: YO"))).toHaveLength(1);
    expect(mine.filter((l) => l.message.endsWith("shouting yo"))).toHaveLength(1);
    expect(mine.find((l) => l.message.endsWith("shouting yo"))?.fields).toMatchObject({
      instanceId: "logs-replay",
      activityName: "Shout",
    });
  });

  it("keeps message-only loggers working and serves pino's fields-first shape through fieldsFirst()", async () => {
    const plain: string[] = [];
    const onlyMessage = (message: string) => {
      plain.push(message);
    };
    const pinoCalls: { fields: object; message: string }[] = [];
    const pinoLike = (fields: object, message: string) => {
      pinoCalls.push({ fields, message });
    };
    const rtPlain = register(
      h.runtime({ logger: { debug: onlyMessage, info: onlyMessage, warn: onlyMessage, error: onlyMessage } }),
    );
    await rtPlain.start();
    await h.client.startOrchestration("logs-plain", "Chatty", "a");
    expect(await h.client.waitForOrchestration("logs-plain", 30_000)).toMatchObject({ output: "A" });
    await rtPlain.shutdown(2000);
    expect(plain).toContain("[logs-plain] before the activity");

    const rtPino = register(
      h.runtime({
        logger: fieldsFirst({ debug: pinoLike, info: pinoLike, warn: pinoLike, error: pinoLike }),
      }),
    );
    await rtPino.start();
    await h.client.startOrchestration("logs-pino", "Chatty", "b");
    expect(await h.client.waitForOrchestration("logs-pino", 30_000)).toMatchObject({ output: "B" });
    await rtPino.shutdown(2000);
    expect(pinoCalls).toContainEqual({
      fields: { instanceId: "logs-pino", executionId: 1, orchestrationName: "Chatty" },
      message: "[logs-pino] before the activity",
    });
  });
});
