import { parseDuration } from "../config.js";
import { listDevices, revokeDevice, isRevocationReason, type DeviceView } from "../enroll/fleet.js";
import { REVOCATION_REASONS } from "../db/types.js";
import { type Command, GATEWAY_FLAGS, UsageError, actor, configFrom, parse } from "./command.js";
import { withDataDir } from "./context.js";

function table(rows: DeviceView[]): string {
  const head = ["ID", "STATUS", "ONLINE", "LAST SEEN", "CERT EXPIRES", "CERTS"];
  const body = rows.map((d) => {
    const newest = d.certificates.find((c) => c.status === "valid");
    return [d.id, d.status, d.online ? "yes" : "no", d.lastSeen ?? "-", newest?.notAfter ?? "-", String(d.certificates.length)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

export const devicesCommand: Command = {
  name: "devices",
  summary: "list devices, or revoke one",
  help: `Usage:
  gateway devices list [--json] [--expiring 7d] [--data DIR]
  gateway devices revoke <deviceId> [--reason keyCompromise|superseded|cessationOfOperation|unspecified] [--data DIR]

list      all devices; --expiring keeps those whose newest valid certificate
          expires within the window; --json prints
          [{ id, status, online, lastSeen, certificates: [{ serial, notBefore, notAfter, status }] }]
revoke    revokes the device and all its certificates, updates the CRL and
          closes its live MQTT sessions within a second, on every gateway
          process sharing this data directory, and cancels its outstanding
          tokens. For a device that never enrolled, it cancels its tokens.
          Revoking twice is harmless.`,
  async run(io) {
    const { values, positionals } = parse(io.argv, { ...GATEWAY_FLAGS, json: { type: "boolean" }, expiring: { type: "string" }, reason: { type: "string" } });
    if (values.help) return io.out(devicesCommand.help + "\n"), 0;
    const config = configFrom(values, io.env);
    const sub = positionals[0];
    if (sub === "list") {
      if (positionals.length !== 1) throw new UsageError("devices list takes no arguments");
      const windowMs = typeof values.expiring === "string" ? parseDuration(values.expiring, "--expiring") * 1000 : undefined;
      await withDataDir(config, async ({ store }) => {
        const rows = await listDevices(store, Date.now(), windowMs);
        io.out(values.json ? JSON.stringify(rows, null, 2) + "\n" : table(rows));
      });
      return 0;
    }
    if (sub === "revoke") {
      if (positionals.length !== 2) throw new UsageError("expected: gateway devices revoke <deviceId>");
      const reason = typeof values.reason === "string" ? values.reason : "unspecified";
      if (!isRevocationReason(reason)) throw new UsageError(`--reason must be one of ${REVOCATION_REASONS.join(", ")}`);
      await withDataDir(config, async ({ store }) => {
        const r = await revokeDevice({ store, clock: Date.now }, positionals[1]!, reason, actor(io.env));
        const tokens = r.tokensCancelled > 0 ? `; cancelled ${r.tokensCancelled} outstanding token(s)` : "";
        if (!r.enrolled) io.out(`device ${r.deviceId} never enrolled; cancelled ${r.tokensCancelled} outstanding token(s)\n`);
        else io.out(r.alreadyRevoked ? `device ${r.deviceId} was already revoked${tokens}\n` : `revoked device ${r.deviceId} (${r.serials.length} certificate(s))${tokens}\n`);
      });
      return 0;
    }
    throw new UsageError("expected: gateway devices list|revoke (see --help)");
  },
};
