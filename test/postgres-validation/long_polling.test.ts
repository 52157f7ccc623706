import { describe } from "vitest";
import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerLongPollingTests } from "../validation/long_polling.ts";

// PostgresProvider can run either way, so both sets of polling tests apply.
describe("short-poll provider", () =>
  registerLongPollingTests(postgresValidationFactory({ longPolling: false })));
describe("long-poll provider", () =>
  registerLongPollingTests(postgresValidationFactory({ longPolling: true })));
