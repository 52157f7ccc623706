import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerCustomStatusTests } from "../validation/custom_status.ts";

registerCustomStatusTests(postgresValidationFactory());
