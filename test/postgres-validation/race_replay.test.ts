import { postgresValidationFactory } from "../../src/testing/postgres-factory.ts";
import { registerRaceReplayTests } from "../validation/race_replay.ts";

registerRaceReplayTests(postgresValidationFactory());
