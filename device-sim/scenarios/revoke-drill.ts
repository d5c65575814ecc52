import type { Device } from "../device.js";
import type { Scenario } from "./scenario.js";
import { summarize } from "./stats.js";

/**
 * Revokes one device through whatever the run was given; says which path it
 * used and when the request left (clock ms), the instant the 1 s bound counts from.
 */
export type Revoker = (deviceId: string) => Promise<{ readonly via: "admin-api"; readonly sentAt: number }>;

/** README "MQTT": a revoked device's live connections close within 1 second. */
export const KICK_BOUND_MS = 1000;

/**
 * Revokes `count` devices mid-run (spread evenly over the online ones) and
 * checks what the contract promises: each revoked device is disconnected
 * within 1 s, none gets back in (every reconnect is refused, and the device
 * gives up), and nobody else is disconnected meanwhile.
 */
export function revokeDrill(o: { count: number; revoke: Revoker; steadyMs?: number; settleMs?: number }): Scenario {
  const name = "revoke-drill";
  return {
    name,
    async run(ctl) {
      if (!(await ctl.allStarted()) || !(await ctl.wait(o.steadyMs ?? 1000))) {
        ctl.fail("revokeDrill:notRun");
        return { performed: false };
      }
      const online = ctl.devices.filter((d) => d.isOnline);
      const k = Math.min(o.count, online.length);
      if (k < o.count) ctl.fail("revokeDrill:tooFewOnline");
      const targets: Device[] = Array.from({ length: k }, (_, i) => online[Math.floor((i * online.length) / k)]!);
      const targetSet = new Set(targets);
      let othersDisconnected = 0;
      let watching = true;
      ctl.onOffline((d) => {
        if (watching && !targetSet.has(d)) othersDisconnected++;
      });
      const connectsBefore = new Map(targets.map((d) => [d, d.connects]));
      const others = ctl.devices.filter((d) => d.isOnline && !targetSet.has(d));
      const publishedBefore = new Map(others.map((d) => [d, d.published]));
      for (const d of targets) ctl.expectRevoked(d);
      const vias = new Set<string>();
      const t0 = new Map<Device, number>();
      await Promise.all(targets.map(async (d) => {
        t0.set(d, ctl.clock());
        try {
          const r = await o.revoke(d.id);
          vias.add(r.via);
          if (Number.isFinite(r.sentAt)) t0.set(d, r.sentAt);
        } catch {
          ctl.fail("revokeDrill:revokeError");
        }
      }));
      const kicked = (d: Device) => !d.isOnline && d.offlineAt >= t0.get(d)!;
      await ctl.waitFor(() => targets.every(kicked), 5000);
      // Give the revoked devices time to retry and be refused (they stop on refusal).
      await ctl.waitFor(() => targets.every((d) => d.state === "revoked" || d.state === "failed"), o.settleMs ?? 5000);
      // "Leaves the others untouched": each of them goes on publishing. Give every one at least two
      // telemetry periods after the revocations to show it.
      const kept = (d: Device) => d.isOnline && d.published > publishedBefore.get(d)!;
      await ctl.waitFor(() => others.every(kept), 2 * ctl.periodMs + 1000);
      watching = false;
      const othersKeptPublishing = others.filter(kept).length;
      if (othersKeptPublishing < others.length) for (let i = othersKeptPublishing; i < others.length; i++) ctl.fail("revokeDrill:othersStopped");
      const each: Record<string, number | null> = {};
      const times: number[] = [];
      let within = 0;
      let gotBackIn = 0;
      for (const d of targets) {
        const ms = kicked(d) ? Math.round((d.offlineAt - t0.get(d)!) * 10) / 10 : null;
        each[d.id] = ms;
        if (ms === null) ctl.fail("revokeDrill:notDisconnected");
        else {
          times.push(ms);
          if (ms <= KICK_BOUND_MS) within++;
          else ctl.fail("revokeDrill:slowDisconnect");
        }
        if (d.connects > connectsBefore.get(d)!) {
          gotBackIn++;
          ctl.fail("revokeDrill:gotBackIn");
        }
      }
      if (othersDisconnected > 0) for (let i = 0; i < othersDisconnected; i++) ctl.fail("revokeDrill:othersDisconnected");
      return {
        performed: true,
        revoked: k,
        via: [...vias].join(","),
        disconnectMs: { ...summarize(times), each },
        disconnectedWithin1s: within,
        gotBackIn,
        gaveUp: targets.filter((d) => d.state === "revoked").length,
        othersDisconnected,
        others: others.length,
        othersKeptPublishing,
      };
    },
  };
}
