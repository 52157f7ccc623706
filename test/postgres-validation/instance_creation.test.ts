import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerInstanceCreationTests } from "../validation/instance_creation.ts";

registerInstanceCreationTests(postgresValidationFactory());
