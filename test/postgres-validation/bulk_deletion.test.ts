import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerBulkDeletionTests } from "../validation/bulk_deletion.ts";

registerBulkDeletionTests(postgresValidationFactory());
