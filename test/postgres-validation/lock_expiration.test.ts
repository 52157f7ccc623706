import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerLockExpirationTests } from "../validation/lock_expiration.ts";

registerLockExpirationTests(postgresValidationFactory());
