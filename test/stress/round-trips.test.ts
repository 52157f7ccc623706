/**
 * Round-trip counting as `--added-latency-ms` and `--trace-calls` use it: the frontend message
 * reader names what each write burst carried, even when messages are split across chunks; and
 * through the proxy, against the real server, a call of a named prepared statement is one round
 * trip whether or not it also prepares the statement (pg sends Parse, Bind, Describe, Execute and
 * Sync in one write), with the trace naming the store function from the statement name.
 */
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { CallTrace } from "../../src/stress/call-trace.ts";
import { parseStressArgs } from "../../src/stress/config.ts";
import { FrontendMessageReader, storeFunction } from "../../src/stress/pg-wire.ts";
import { TcpProxy } from "../../src/stress/tcp-proxy.ts";
import { testDatabaseUrl } from "../../src/testing/test-schema.ts";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A typed frontend message: type byte, int32 length (itself included), body. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const cstr = (text: string) => Buffer.from(`${text}\0`);

describe("FrontendMessageReader", () => {
  it("names the startup, a simple query and a named call, across arbitrary chunk boundaries", () => {
    const startupBody = Buffer.concat([Buffer.from([0, 3, 0, 0]), cstr("user"), cstr("u"), cstr("")]);
    const startup = Buffer.alloc(4);
    startup.writeInt32BE(startupBody.length + 4);
    const stream = Buffer.concat([
      startup,
      startupBody,
      message("Q", cstr("LISTEN   pgd_wake")),
      message(
        "P",
        Buffer.concat([cstr("pgd_0123456789_fetch_work_item_4"), cstr("SELECT 1"), Buffer.alloc(2)]),
      ),
      message("B", Buffer.concat([cstr(""), cstr("pgd_0123456789_fetch_work_item_4"), Buffer.alloc(6)])),
      message("E", Buffer.concat([cstr(""), Buffer.alloc(4)])),
      message("S", Buffer.alloc(0)),
    ]);
    const whole = new FrontendMessageReader().feed(stream);
    const expected = ["startup", "query LISTEN pgd_wake", "parse fetch_work_item", "fetch_work_item"];
    expect(whole).toEqual(expected);
    // One byte at a time: headers and bodies split everywhere.
    const reader = new FrontendMessageReader();
    const labels: string[] = [];
    for (const byte of stream) labels.push(...reader.feed(Buffer.from([byte])));
    expect(labels).toEqual(expected);
  });

  it("finds the store function of a named statement or of an unnamed call's text", () => {
    expect(storeFunction("pgd_0123456789_ack_work_item_5_r2", "")).toBe("ack_work_item");
    expect(storeFunction("", 'SELECT * FROM "s 1".next_wakeup_at($1, $2)')).toBe("next_wakeup_at");
    expect(storeFunction("other", "SELECT 1")).toBeNull();
  });

  it("stops reading a stream whose lengths make no sense instead of printing garbage", () => {
    const reader = new FrontendMessageReader();
    const garbage = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]); // a TLS record, say
    expect(reader.feed(Buffer.concat([Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]), garbage]))).toEqual([
      "ssl-request",
      "(unreadable stream)",
    ]);
    expect(reader.feed(message("Q", cstr("SELECT 1")))).toEqual([]);
  });
});

describe("the stress options", () => {
  it("take --added-latency-ms, and --trace-calls goes through the proxy without delay unless told", () => {
    expect(parseStressArgs([]).addedLatencyMs).toBeNull();
    expect(parseStressArgs(["--added-latency-ms", "5"]).addedLatencyMs).toBe(5);
    expect(parseStressArgs(["--trace-calls"])).toMatchObject({ traceCalls: true, addedLatencyMs: 0 });
    expect(parseStressArgs(["--trace-calls", "--added-latency-ms", "1"]).addedLatencyMs).toBe(1);
  });

  it("refuse a trace of runtimes in other processes", () => {
    const stderr = process.stderr.write;
    process.stderr.write = () => true; // commander prints the usage error too
    try {
      expect(() => parseStressArgs(["--trace-calls", "--runtimes", "2"])).toThrow(/--runtimes 1/);
      expect(() => parseStressArgs(["--added-latency-ms", "-1"])).toThrow(/≥ 0/);
    } finally {
      process.stderr.write = stderr;
    }
  });
});

describe("round trips through the proxy, against the server", () => {
  it("counts a named prepared call as one round trip, first use (with Parse) and later uses", async () => {
    const url = new URL(testDatabaseUrl());
    const trace = new CallTrace();
    const proxy = await TcpProxy.start({
      target: { host: url.hostname, port: Number(url.port || 5432) },
      observer: trace,
    });
    closers.push(() => proxy.close());
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    closers.push(() => client.end());

    const call = { name: "pgd_0123456789_probe_1", text: "SELECT $1::int AS n", values: [7] };
    trace.start();
    const before = proxy.roundTrips;
    expect((await client.query(call)).rows).toEqual([{ n: 7 }]);
    expect(proxy.roundTrips - before).toBe(1);
    expect((await client.query(call)).rows).toEqual([{ n: 7 }]);
    expect(proxy.roundTrips - before).toBe(2);
    await client.query("SELECT 1");
    expect(proxy.roundTrips - before).toBe(3);
    trace.stop();

    const lines = trace.render().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/rt c1 +probe \+parse \(server/);
    expect(lines[1]).toMatch(/rt c1 +probe \(server/);
    expect(lines[2]).toMatch(/rt c1 +query SELECT 1 \(server/);
  });
});
