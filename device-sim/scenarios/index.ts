import type { Scenario } from "./scenario.js";
import { firstBoot } from "./first-boot.js";
import { reconnectStorm } from "./reconnect-storm.js";
import { revokeDrill, type Revoker } from "./revoke-drill.js";

export const SCENARIOS = ["first-boot", "reconnect-storm", "revoke-drill"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenarioName(s: unknown): s is ScenarioName {
  return typeof s === "string" && (SCENARIOS as readonly string[]).includes(s);
}

export function makeScenario(name: ScenarioName, o: { revokeCount: number; revoke?: Revoker }): Scenario {
  switch (name) {
    case "first-boot": return firstBoot();
    case "reconnect-storm": return reconnectStorm();
    case "revoke-drill":
      if (!o.revoke) throw new Error("revoke-drill needs a way to revoke (--data)");
      return revokeDrill({ count: o.revokeCount, revoke: o.revoke });
  }
}

export { type Revoker };
