/**
 * A wall clock that tests can move forward: Date.now() plus an offset that only grows. Real time keeps
 * flowing, so code that also sleeps or measures elapsed time still sees a consistent clock.
 */
import type { AdvanceableClock } from "../provider/provider-factory.ts";

export function advanceableClock(): AdvanceableClock {
  let offsetMs = 0;
  return {
    now: () => Date.now() + offsetMs,
    advance(ms: number): void {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms): ms must be ≥ 0, got ${ms}`);
      offsetMs += ms;
    },
  };
}
