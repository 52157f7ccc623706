import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerTagFilteringTests } from "../validation/tag_filtering.ts";

registerTagFilteringTests(postgresValidationFactory());
