import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerTagFilteringTests } from "../../src/validation/tag_filtering.ts";

registerTagFilteringTests(postgresValidationFactory());
