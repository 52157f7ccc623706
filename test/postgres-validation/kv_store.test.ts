import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerKvStoreTests } from "../../src/validation/kv_store.ts";

registerKvStoreTests(postgresValidationFactory());
