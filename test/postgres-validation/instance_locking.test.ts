import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerInstanceLockingTests } from "../../src/validation/instance_locking.ts";

registerInstanceLockingTests(postgresValidationFactory());
