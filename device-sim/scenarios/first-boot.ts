import type { Scenario } from "./scenario.js";

/**
 * The default: every device boots (enrolling when it has no certificate),
 * connects and publishes until the run ends. Nothing else happens to it; the
 * report's own figures are the result.
 */
export function firstBoot(): Scenario {
  return { name: "first-boot", run: async () => undefined };
}
