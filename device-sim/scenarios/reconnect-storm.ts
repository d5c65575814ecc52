import type { Scenario } from "./scenario.js";
import { summarize } from "./stats.js";

/**
 * Everyone drops and comes back at once: once the fleet is up and has
 * published for `steadyMs`, every online device loses its socket in the same
 * instant (no DISCONNECT, as when a NAT or an access point dies) and
 * reconnects with its backoff. Reports how long until all were back.
 */
export function reconnectStorm(o: { steadyMs?: number } = {}): Scenario {
  const name = "reconnect-storm";
  return {
    name,
    async run(ctl) {
      if (!(await ctl.allStarted()) || !(await ctl.wait(o.steadyMs ?? 1000))) {
        ctl.fail("reconnectStorm:notRun");
        return { performed: false };
      }
      const victims = ctl.devices.filter((d) => d.isOnline);
      const t0 = ctl.clock();
      const before = new Map(victims.map((d) => [d, d.connects]));
      const resumedBefore = victims.reduce((n, d) => n + d.resumedConnects, 0);
      let dropped = 0;
      for (const d of victims) if (d.dropConnection()) dropped++;
      const back = () => victims.filter((d) => d.isOnline && d.connects > before.get(d)!);
      const allBack = await ctl.waitFor(() => back().length === victims.length, Number.POSITIVE_INFINITY);
      const returned = back();
      const times = returned.map((d) => d.onlineAt - t0);
      if (!allBack) {
        for (let i = returned.length; i < victims.length; i++) ctl.fail("reconnectStorm:notBack");
      }
      return {
        performed: true,
        dropped,
        reconnected: returned.length,
        // Reconnects that resumed their TLS session (abbreviated handshake) rather than a full one.
        resumed: victims.reduce((n, d) => n + d.resumedConnects, 0) - resumedBefore,
        allBackMs: allBack ? Math.round(Math.max(0, ...times)) : null,
        reconnectMs: summarize(times),
      };
    },
  };
}
