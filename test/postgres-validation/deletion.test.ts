import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerDeletionTests } from "../validation/deletion.ts";

registerDeletionTests(postgresValidationFactory());
