import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerCancellationTests } from "../../src/validation/cancellation.ts";

registerCancellationTests(postgresValidationFactory());
