/**
 * Handler registries. Orchestrations are versioned (semver); a new instance runs the version its
 * start asks for, or the policy's choice (latest registered by default); every later turn of an
 * execution runs exactly the version recorded in its OrchestrationStarted. Activities are plain
 * name → function.
 */
import type { SemVer } from "../provider/types.ts";
import type { ActivityContext } from "./activity-context.ts";
import type { OrchestrationFunction } from "./replay-engine.ts";
import { compareSemver, formatSemver, parseSemver } from "./semver.ts";

export type ActivityFunction<I = unknown, O = unknown> = (ctx: ActivityContext, input: I) => O | Promise<O>;

export const DEFAULT_ORCHESTRATION_VERSION = "1.0.0";

export type VersionPolicy = { kind: "latest" } | { kind: "exact"; version: string };

interface Versioned {
  version: SemVer;
  handler: OrchestrationFunction;
}

export class OrchestrationRegistry {
  private readonly byName = new Map<string, Versioned[]>();
  private readonly policies = new Map<string, VersionPolicy>();

  register(name: string, version: string, handler: OrchestrationFunction): void {
    if (typeof name !== "string" || name === "")
      throw new TypeError("orchestration name must be a non-empty string");
    if (typeof handler !== "function")
      throw new TypeError(`orchestration '${name}' must be a generator function`);
    if (
      handler.constructor?.name === "AsyncGeneratorFunction" ||
      handler.constructor?.name === "AsyncFunction"
    ) {
      throw new TypeError(`orchestration '${name}' must be a generator function (function*), not async`);
    }
    const semver = parseSemver(version);
    if (!semver) throw new TypeError(`orchestration '${name}': version '${version}' is not a semver (x.y.z)`);
    const list = this.byName.get(name) ?? [];
    if (list.some((v) => compareSemver(v.version, semver) === 0)) {
      throw new Error(`orchestration '${name}' version ${version} is already registered`);
    }
    list.push({ version: semver, handler });
    list.sort((a, b) => compareSemver(a.version, b.version));
    this.byName.set(name, list);
  }

  /** Pin new instances of `name` to one version instead of the latest. */
  setVersionPolicy(name: string, policy: VersionPolicy): void {
    this.policies.set(name, policy);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * The handler for `name` at `version` (exact match), or at the policy's version when `version`
   * is null. Null when nothing matches (unregistered, or not a semver).
   */
  resolve(name: string, version: string | null): { version: string; handler: OrchestrationFunction } | null {
    const list = this.byName.get(name);
    if (!list || list.length === 0) return null;
    let wanted = version;
    if (wanted === null) {
      const policy = this.policies.get(name) ?? { kind: "latest" };
      if (policy.kind === "latest") {
        const latest = list[list.length - 1]!;
        return { version: formatSemver(latest.version), handler: latest.handler };
      }
      wanted = policy.version;
    }
    const semver = parseSemver(wanted);
    if (!semver) return null;
    const found = list.find((v) => compareSemver(v.version, semver) === 0);
    return found ? { version: formatSemver(found.version), handler: found.handler } : null;
  }
}

export class ActivityRegistry {
  private readonly byName = new Map<string, ActivityFunction>();

  register(name: string, fn: ActivityFunction, options: { system?: boolean } = {}): void {
    if (typeof name !== "string" || name === "")
      throw new TypeError("activity name must be a non-empty string");
    if (typeof fn !== "function") throw new TypeError(`activity '${name}' must be a function`);
    if (!options.system && name.startsWith("__duroxide_syscall:")) {
      throw new Error(`activity name '${name}' uses the reserved prefix __duroxide_syscall:`);
    }
    if (this.byName.has(name)) throw new Error(`activity '${name}' is already registered`);
    this.byName.set(name, fn);
  }

  get(name: string): ActivityFunction | undefined {
    return this.byName.get(name);
  }
}
