import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerCancellationTests } from "../validation/cancellation.ts";

registerCancellationTests(postgresValidationFactory());
