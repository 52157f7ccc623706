import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerManagementTests } from "../../src/validation/management.ts";

registerManagementTests(postgresValidationFactory());
