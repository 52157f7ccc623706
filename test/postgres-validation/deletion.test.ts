import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerDeletionTests } from "../../src/validation/deletion.ts";

registerDeletionTests(postgresValidationFactory());
