import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerCapabilityFilteringTests } from "../validation/capability_filtering.ts";

registerCapabilityFilteringTests(postgresValidationFactory());
