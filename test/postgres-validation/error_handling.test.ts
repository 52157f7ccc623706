import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerErrorHandlingTests } from "../../src/validation/error_handling.ts";

registerErrorHandlingTests(postgresValidationFactory());
