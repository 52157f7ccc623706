/**
 * Vitest global setup: one PostgreSQL for the whole run. With DATABASE_URL the tests use that
 * server (and touch only schemas they create); without it an embedded PostgreSQL is started in a
 * temp directory and removed afterwards.
 */
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.DATABASE_URL;
  if (url) {
    project.provide("databaseUrl", url);
    return async () => {};
  }
  const server = await startEmbeddedPostgres();
  project.provide("databaseUrl", server.url);
  return async () => {
    await server.stop();
  };
}
