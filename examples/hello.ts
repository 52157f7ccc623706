/**
 * Hello, durable world: `npx tsx examples/hello.ts`
 *
 * Uses DATABASE_URL when set, otherwise starts a throw-away embedded PostgreSQL. Migrates a fresh
 * schema, runs one orchestration (two activities and a durable timer), prints the result, and
 * removes everything it created.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate, quoteSchema } from "../src/migrate/migrations.ts";
import { PostgresProvider } from "../src/provider/postgres-provider.ts";
import { Client, Runtime } from "../src/runtime/index.ts";
import { type EmbeddedServer, startEmbeddedPostgres } from "../src/testing/embedded-postgres.ts";

const server: EmbeddedServer | null = process.env.DATABASE_URL ? null : await startEmbeddedPostgres();
const url = process.env.DATABASE_URL ?? server!.url;
const schema = `hello_${randomBytes(4).toString("hex")}`;
const pool = new pg.Pool({ connectionString: url, max: 6 });
let provider: PostgresProvider | null = null;

try {
  await migrate(pool, schema);
  provider = await PostgresProvider.create({ pool, schema });

  const runtime = new Runtime(provider, { dispatcherMinPollIntervalMs: 20, logLevel: "warn" });
  runtime.registerActivity("Greet", async (ctx, name: string) => {
    ctx.traceInfo(`greeting ${name}`);
    return `Hello, ${name}!`;
  });
  runtime.registerOrchestration("HelloWorld", function* (ctx, name: string) {
    const first: string = yield ctx.scheduleActivity("Greet", name);
    yield ctx.scheduleTimer(100); // durable: survives a restart of the process
    const second = yield* ctx.scheduleActivity<string>("Greet", "durable world");
    return `${first} ${second}`;
  });
  await runtime.start();

  const client = new Client(provider);
  await client.startOrchestration("hello-1", "HelloWorld", "World");
  const result = await client.waitForOrchestration("hello-1", 30_000);
  console.log(result.status === "Completed" ? `Result: ${result.output}` : `Failed: ${result.error}`);

  await runtime.shutdown();
} finally {
  await provider?.close();
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`).catch(() => {});
  await pool.end();
  await server?.stop();
}
