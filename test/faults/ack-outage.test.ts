/**
 * A database outage longer than a few seconds but shorter than the activity's lock:
 * the activity finishes while the database is unreachable, and its result must survive. The
 * runtime reaches Postgres through a TCP proxy written here; cutting the proxy drops every open
 * connection and refuses new ones, as a crashed and restarting server would.
 */
import { once } from "node:events";
import net from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { Client } from "../../src/runtime/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

/** A TCP proxy to the test database that can be cut (connections dropped, new ones refused). */
class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  private readonly server: net.Server;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  async listen(): Promise<number> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Drop every connection and refuse new ones until restore(). */
  sever(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const OUTAGE_MS = 7000; // longer than the old ack retry window (about 5.2 s)
const WORKER_LOCK_MS = 12_000; // longer than the outage

let db: TestSchema;
let proxy: CuttableProxy;
let provider: PostgresProvider;
let clientProvider: PostgresProvider;

beforeAll(async () => {
  db = await createTestSchema({ prefix: "flt_ack" });
  const url = new URL(db.url);
  proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(await proxy.listen());
  url.hostname = "127.0.0.1";
  provider = await PostgresProvider.create({
    connectionString: url.toString(),
    schema: db.schema,
    poolSize: 4,
    connectionTimeoutMs: 1000,
  });
  // The test's own client talks to the database directly: only the runtime suffers the outage.
  clientProvider = await PostgresProvider.create({
    connectionString: db.url,
    schema: db.schema,
    poolSize: 2,
  });
});

afterAll(async () => {
  await provider?.close();
  await clientProvider?.close();
  await proxy?.close();
  await db?.drop();
});

it("an activity that finishes during a 7 s outage is acked afterwards, not run again", async () => {
  let executions = 0;
  let finishedAt = 0;
  const runtime = new Runtime(provider, {
    dispatcherMinPollIntervalMs: 10,
    dispatcherLongPollTimeoutMs: 200,
    workerLockTimeoutMs: WORKER_LOCK_MS,
    logLevel: "silent",
  });
  runtime.registerActivity("Slow", async () => {
    executions++;
    // The database goes away while the activity runs; it finishes in the middle of the outage.
    if (executions === 1) {
      proxy.sever();
      setTimeout(() => proxy.restore(), OUTAGE_MS).unref();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    finishedAt = Date.now();
    return "done";
  });
  runtime.registerOrchestration("OneSlowStep", function* (ctx) {
    return yield* ctx.scheduleActivity<string>("Slow", null);
  });
  await runtime.start();
  try {
    const client = new Client(clientProvider);
    await client.startOrchestration("outage-1", "OneSlowStep");
    const done = await client.waitForOrchestration<string>("outage-1", 30_000);
    expect(done).toMatchObject({ status: "Completed", output: "done" });
    expect(executions).toBe(1);
    // The result was kept across the whole outage (not re-computed after the lock expired).
    expect(Date.now() - finishedAt).toBeLessThan(WORKER_LOCK_MS);
  } finally {
    await runtime.shutdown(2000);
  }
}, 40_000);
