import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerLockExpirationTests } from "../../src/validation/lock_expiration.ts";

registerLockExpirationTests(postgresValidationFactory());
