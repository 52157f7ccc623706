import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerPruneTests } from "../validation/prune.ts";

registerPruneTests(postgresValidationFactory());
