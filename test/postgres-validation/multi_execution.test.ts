import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerMultiExecutionTests } from "../validation/multi_execution.ts";

registerMultiExecutionTests(postgresValidationFactory());
