// Moving a monotonic clock forward instead of waiting for it. node:test's mock.timers mocks Date and the
// timers, not performance.now(), which Kestrel uses for durations, rate limits and progress.
import type { TestContext } from "node:test";

/** From now to the end of the test `t`, performance.now() reads `ms` later than it is. */
export function laterBy(t: TestContext, ms: number): void {
  const now = performance.now.bind(performance);
  t.mock.method(performance, "now", () => now() + ms);
}
