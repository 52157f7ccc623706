import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerAtomicityTests } from "../validation/atomicity.ts";

registerAtomicityTests(postgresValidationFactory());
