import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerPoisonMessageTests } from "../validation/poison_message.ts";

registerPoisonMessageTests(postgresValidationFactory());
