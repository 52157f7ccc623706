import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerErrorHandlingTests } from "../validation/error_handling.ts";

registerErrorHandlingTests(postgresValidationFactory());
