/**
 * The commit ceiling of this server for a queue-like transaction: 4 clients each loop
 * "insert a row, delete it" as one committed transaction for a fixed time (like a pgbench custom
 * script). The stress result is reported as a ratio of it.
 */
import pg from "pg";
import { quoteSchema } from "../migrate/migrations.ts";

export interface BaselineResult {
  tps: number;
  transactions: number;
  seconds: number;
  clients: number;
}

export async function measureCommitCeiling(
  url: string,
  schema: string,
  options: {
    clients?: number;
    seconds?: number;
    connectTimeoutMs?: number;
    /** True once the run is interrupted: end the measurement early. */
    shouldStop?: () => boolean;
  } = {},
): Promise<BaselineResult> {
  const clients = options.clients ?? 4;
  const seconds = options.seconds ?? 10;
  const connect = { connectionString: url, connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 };
  const shouldStop = options.shouldStop ?? (() => false);
  const table = `${quoteSchema(schema)}.baseline_queue`;
  const admin = new pg.Client(connect);
  await admin.connect();
  await admin.query(
    `CREATE TABLE IF NOT EXISTS ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, client int NOT NULL, payload text NOT NULL)`,
  );
  await admin.query(`CREATE INDEX IF NOT EXISTS baseline_queue_client_idx ON ${table} (client)`);
  const deadline = Date.now() + seconds * 1000;
  let transactions = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, clientNo) => {
      const client = new pg.Client(connect);
      await client.connect();
      try {
        // One round trip, one commit: enqueue a job and consume it, as a queue does.
        const text =
          `BEGIN; INSERT INTO ${table} (client, payload) VALUES (${clientNo}, 'job'); ` +
          `DELETE FROM ${table} WHERE client = ${clientNo}; COMMIT;`;
        while (Date.now() < deadline && !shouldStop()) {
          await client.query(text);
          transactions++;
        }
      } finally {
        await client.end();
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
  return { tps: transactions / elapsed, transactions, seconds: elapsed, clients };
}
