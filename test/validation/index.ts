/**
 * The provider validation suite: duroxide's provider certification, category by category, driven by a
 * ProviderFactory. A provider implementation runs it from one of its own vitest files:
 *
 *   import { registerValidationSuite } from "pg-durable/validation";
 *   registerValidationSuite(myFactory);                                  // every category
 *   registerValidationSuite(myFactory, { categories: ["atomicity"] });  // a subset
 *
 * Test names are duroxide's, so results compare across implementations. See docs/validation.md.
 */

import type { ProviderFactory } from "pg-durable";
import { registerAtomicityTests } from "./atomicity.ts";
import { registerBulkDeletionTests } from "./bulk_deletion.ts";
import { registerCancellationTests } from "./cancellation.ts";
import { registerCapabilityFilteringTests } from "./capability_filtering.ts";
import { registerCustomStatusTests } from "./custom_status.ts";
import { registerDeletionTests } from "./deletion.ts";
import { registerErrorHandlingTests } from "./error_handling.ts";
import { registerInstanceCreationTests } from "./instance_creation.ts";
import { registerInstanceLockingTests } from "./instance_locking.ts";
import { registerKvStoreTests } from "./kv_store.ts";
import { registerLockExpirationTests } from "./lock_expiration.ts";
import { registerLongPollingTests } from "./long_polling.ts";
import { registerManagementTests } from "./management.ts";
import { registerMultiExecutionTests } from "./multi_execution.ts";
import { registerPoisonMessageTests } from "./poison_message.ts";
import { registerPruneTests } from "./prune.ts";
import { registerQueueSemanticsTests } from "./queue_semantics.ts";
import { registerRaceReplayTests } from "./race_replay.ts";
import { registerSessionsTests } from "./sessions.ts";
import { registerTagFilteringTests } from "./tag_filtering.ts";

export type { ProviderFactory } from "pg-durable";
export {
  registerAtomicityTests,
  registerBulkDeletionTests,
  registerCancellationTests,
  registerCapabilityFilteringTests,
  registerCustomStatusTests,
  registerDeletionTests,
  registerErrorHandlingTests,
  registerInstanceCreationTests,
  registerInstanceLockingTests,
  registerKvStoreTests,
  registerLockExpirationTests,
  registerLongPollingTests,
  registerManagementTests,
  registerMultiExecutionTests,
  registerPoisonMessageTests,
  registerPruneTests,
  registerQueueSemanticsTests,
  registerRaceReplayTests,
  registerSessionsTests,
  registerTagFilteringTests,
};

/** Category name (as in duroxide's suite and docs/validation.md) → the function registering its tests. */
export const VALIDATION_CATEGORIES: Readonly<Record<string, (factory: ProviderFactory) => void>> = {
  atomicity: registerAtomicityTests,
  instance_creation: registerInstanceCreationTests,
  error_handling: registerErrorHandlingTests,
  instance_locking: registerInstanceLockingTests,
  lock_expiration: registerLockExpirationTests,
  multi_execution: registerMultiExecutionTests,
  queue_semantics: registerQueueSemanticsTests,
  poison_message: registerPoisonMessageTests,
  long_polling: registerLongPollingTests,
  management: registerManagementTests,
  cancellation: registerCancellationTests,
  deletion: registerDeletionTests,
  bulk_deletion: registerBulkDeletionTests,
  prune: registerPruneTests,
  capability_filtering: registerCapabilityFilteringTests,
  sessions: registerSessionsTests,
  custom_status: registerCustomStatusTests,
  tag_filtering: registerTagFilteringTests,
  kv_store: registerKvStoreTests,
  race_replay: registerRaceReplayTests,
};

export interface ValidationSuiteOptions {
  /** Register only these categories (category names, e.g. "atomicity"); default: all. */
  categories?: string[];
}

/** Register the validation suite's `describe` blocks for `factory` in the calling test file. */
export function registerValidationSuite(
  factory: ProviderFactory,
  options: ValidationSuiteOptions = {},
): void {
  const selected = options.categories ?? Object.keys(VALIDATION_CATEGORIES);
  for (const category of selected) {
    const register = VALIDATION_CATEGORIES[category];
    if (!register) {
      throw new Error(
        `unknown validation category "${category}"; known: ${Object.keys(VALIDATION_CATEGORIES).join(", ")}`,
      );
    }
    register(factory);
  }
}
