import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerInstanceLockingTests } from "../validation/instance_locking.ts";

registerInstanceLockingTests(postgresValidationFactory());
