/**
 * duroxide-node's provider classes. `PostgresProvider.connect*` open pg-durable's
 * PostgresProvider and apply pending migrations, as duroxide-node's provider does on connect;
 * what they return is the main API's PostgresProvider, usable with both entry points.
 */
import { PostgresProvider as StoreProvider } from "../provider/postgres-provider.ts";
import { entraUnsupported, sqliteUnsupported } from "./unsupported.ts";

/** duroxide-node's Entra options; accepted for the signature only (see connectWithEntra). */
export interface PostgresEntraOptions {
  audience?: string;
  maxConnections?: number;
  acquireTimeoutMs?: number;
  refreshIntervalMs?: number;
}

/** duroxide-node's schema when none is given. */
const DEFAULT_SCHEMA = "public";

async function open(databaseUrl: string, schema: string): Promise<PostgresProvider> {
  if (typeof databaseUrl !== "string" || databaseUrl === "") {
    throw new TypeError("PostgresProvider.connect needs a database URL (postgres://user:pass@host:5432/db)");
  }
  if (typeof schema !== "string" || schema === "") throw new TypeError("schema must be a non-empty string");
  return (await StoreProvider.create({
    connectionString: databaseUrl,
    schema,
    migrate: true,
  })) as PostgresProvider;
}

// The instances are the main API's providers: the interface gives the class their members, and
// `instanceof` recognises any of them.
export interface PostgresProvider extends StoreProvider {}

// biome-ignore lint/complexity/noStaticOnlyClass: duroxide-node's API is a class with static factories
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the instances are made by the main API's class
export abstract class PostgresProvider {
  /** Connect and migrate the "public" schema. */
  static connect(databaseUrl: string): Promise<PostgresProvider> {
    return open(databaseUrl, DEFAULT_SCHEMA);
  }

  /** Connect and migrate `schema` (created if missing). */
  static connectWithSchema(databaseUrl: string, schema: string): Promise<PostgresProvider> {
    return open(databaseUrl, schema);
  }

  /** Not available: throws an UnsupportedError that says what to do instead. */
  static async connectWithEntra(
    _host: string,
    _port: number,
    _database: string,
    _user: string,
    _options?: PostgresEntraOptions,
  ): Promise<PostgresProvider> {
    throw entraUnsupported("connectWithEntra");
  }

  /** Not available: throws an UnsupportedError that says what to do instead. */
  static async connectWithSchemaAndEntra(
    _host: string,
    _port: number,
    _database: string,
    _user: string,
    _schema: string,
    _options?: PostgresEntraOptions,
  ): Promise<PostgresProvider> {
    throw entraUnsupported("connectWithSchemaAndEntra");
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof StoreProvider;
  }
}

/** duroxide-node's SQLite provider does not exist here: every factory throws an UnsupportedError. */
// biome-ignore lint/complexity/noStaticOnlyClass: duroxide-node's API is a class with static factories
export abstract class SqliteProvider {
  static async open(_path: string): Promise<never> {
    throw sqliteUnsupported("open");
  }

  static async inMemory(): Promise<never> {
    throw sqliteUnsupported("inMemory");
  }
}
