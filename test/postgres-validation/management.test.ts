import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerManagementTests } from "../validation/management.ts";

registerManagementTests(postgresValidationFactory());
