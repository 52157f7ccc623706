import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerKvStoreTests } from "../validation/kv_store.ts";

registerKvStoreTests(postgresValidationFactory());
