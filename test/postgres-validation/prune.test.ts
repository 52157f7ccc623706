import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerPruneTests } from "../../src/validation/prune.ts";

registerPruneTests(postgresValidationFactory());
