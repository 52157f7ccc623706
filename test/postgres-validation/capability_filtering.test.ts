import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerCapabilityFilteringTests } from "../../src/validation/capability_filtering.ts";

registerCapabilityFilteringTests(postgresValidationFactory());
