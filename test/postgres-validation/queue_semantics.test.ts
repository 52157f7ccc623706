import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerQueueSemanticsTests } from "../../src/validation/queue_semantics.ts";

registerQueueSemanticsTests(postgresValidationFactory());
