import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerSessionsTests } from "../validation/sessions.ts";

registerSessionsTests(postgresValidationFactory());
