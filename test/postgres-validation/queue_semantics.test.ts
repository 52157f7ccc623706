import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerQueueSemanticsTests } from "../validation/queue_semantics.ts";

registerQueueSemanticsTests(postgresValidationFactory());
