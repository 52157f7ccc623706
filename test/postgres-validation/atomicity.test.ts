import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerAtomicityTests } from "../../src/validation/atomicity.ts";

registerAtomicityTests(postgresValidationFactory());
