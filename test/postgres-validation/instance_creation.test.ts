import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerInstanceCreationTests } from "../../src/validation/instance_creation.ts";

registerInstanceCreationTests(postgresValidationFactory());
