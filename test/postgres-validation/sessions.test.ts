import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerSessionsTests } from "../../src/validation/sessions.ts";

registerSessionsTests(postgresValidationFactory());
