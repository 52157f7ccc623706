// Hello, durable world. Run with: DATABASE_URL=postgres://user:password@host:5432/db node hello.mjs
import { Client, PostgresProvider, Runtime } from "pg-durable";

const provider = await PostgresProvider.create({
  connectionString: process.env.DATABASE_URL,
  schema: "hello_durable",
  migrate: true, // creates the schema and applies pending migrations (or run `npx pg-durable migrate` once)
});
const runtime = new Runtime(provider, { logLevel: "warn" });
runtime.registerActivity("Greet", async (_ctx, name) => `Hello, ${name}!`);
runtime.registerOrchestration("HelloWorld", function* (ctx, name) {
  const greeting = yield ctx.scheduleActivity("Greet", name);
  yield ctx.scheduleTimer(1_000); // durable: after a crash, a restarted process resumes here
  return greeting;
});
await runtime.start();

const client = new Client(provider);
const instanceId = `hello-${Date.now()}`;
await client.startOrchestration(instanceId, "HelloWorld", "world");
const result = await client.waitForOrchestration(instanceId, 30_000);
console.log(result.status === "Completed" ? result.output : `Failed: ${result.error}`);
if (result.status !== "Completed") process.exitCode = 1;

await runtime.shutdown();
await provider.close();
