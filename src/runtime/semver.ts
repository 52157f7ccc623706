/**
 * The engine version and the little semver arithmetic the runtime needs: orchestration versions
 * ("1.2.0") and the duroxide_version pin written on every event.
 */
import type { DispatcherCapabilityFilter, SemVer } from "../provider/types.ts";

/**
 * Written into `duroxide_version` of every event this runtime creates; the value on an execution's
 * OrchestrationStarted is its pin. It names the duroxide release whose wire format and replay
 * semantics this engine follows (0.1.32: the fixed race-cancellation policy,
 * docs/replay-rules.md §9), so nodes of that family sharing a store read our histories the way we wrote them.
 */
export const ENGINE_VERSION = "0.1.32";

/** Executions stamped at or above this version replay with the fixed race policy (replay-rules.md §9). */
const FIXED_REPLAY_SEMVER: SemVer = { major: 0, minor: 1, patch: 31 };

/**
 * How dropped subscriptions behave during replay, chosen per execution by the stamp on its
 * OrchestrationStarted: "fixed" from 0.1.31, "legacy" below (including an unparsable stamp), so
 * a history keeps replaying under the rules it was recorded with.
 */
export type ReplayPolicy = "fixed" | "legacy";

export function replayPolicyFor(stamp: string | null | undefined): ReplayPolicy {
  const version = parseSemver(stamp);
  return version && compareSemver(version, FIXED_REPLAY_SEMVER) >= 0 ? "fixed" : "legacy";
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+].*)?$/;

/** Parse "x.y.z" (pre-release/build suffixes ignored); null when not a semver. */
export function parseSemver(text: string | null | undefined): SemVer | null {
  if (typeof text !== "string") return null;
  const match = SEMVER.exec(text.trim());
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

export function compareSemver(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function formatSemver(v: SemVer): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

export const ENGINE_SEMVER: SemVer = parseSemver(ENGINE_VERSION)!;

/** The default capability filter: every pin from 0.0.0 up to this engine's version. */
export function defaultCapabilityFilter(): DispatcherCapabilityFilter {
  return { supportedDuroxideVersions: [{ min: { major: 0, minor: 0, patch: 0 }, max: ENGINE_SEMVER }] };
}

/** Whether the version lies inside the filter's first range (providers apply only the first). */
export function filterAccepts(filter: DispatcherCapabilityFilter, version: SemVer): boolean {
  const range = filter.supportedDuroxideVersions[0];
  if (!range) return false;
  return compareSemver(range.min, version) <= 0 && compareSemver(version, range.max) <= 0;
}
