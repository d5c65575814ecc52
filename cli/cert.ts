import path from "node:path";
import { issueCredential, listCredentials, revokeCredential, type CredentialView } from "../enroll/credentials.js";
import { isRevocationReason } from "../enroll/fleet.js";
import { REVOCATION_REASONS } from "../db/types.js";
import { type Command, GATEWAY_FLAGS, UsageError, actor, configFrom, parse } from "./command.js";
import { withDataDir } from "./context.js";

function table(rows: CredentialView[]): string {
  const head = ["NAME", "ROLE", "STATUS", "EXPIRES", "CERTS"];
  const body = rows.map((c) => {
    const newest = c.certificates.filter((x) => x.status === "valid").map((x) => x.notAfter).sort().at(-1);
    return [c.name, c.role, c.status, newest ?? "-", String(c.certificates.length)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

export const certCommand: Command = {
  name: "cert",
  summary: "issue, list or revoke service and admin client credentials",
  help: `Usage:
  gateway cert issue --role service|admin --name NAME --out DIR [--data DIR]
  gateway cert list [--json] [--data DIR]
  gateway cert revoke --name NAME [--reason keyCompromise|superseded|cessationOfOperation|unspecified] [--data DIR]

issue   writes DIR/NAME.pem (certificate) and DIR/NAME.key (private key, mode 0600).
        The role is carried in the certificate (a certificate policy OID set by the
        CA), so it cannot be claimed through a CSR. Devices get certificates only
        through EST. Names share one name space with device ids: NAME may not be a
        device id (or an id a token was created for), "admin" is the admin
        credential's, and NAME may not nest with another credential's name through
        "-" (with "backend", neither "backend-eu" nor "x" when "x-y" exists).
        Issuing again under the same name and role adds a certificate (rotation).
list    every service and admin credential; --json prints
        [{ name, role, status, certificates: [{ serial, notBefore, notAfter, status }] }]
revoke  revokes every certificate of the credential: it goes on the CRL, the admin
        API and MQTT refuse it, and its live MQTT sessions are closed within a
        second on every gateway process sharing this data directory.`,
  async run(io) {
    const { values, positionals } = parse(io.argv, {
      ...GATEWAY_FLAGS, role: { type: "string" }, name: { type: "string" }, out: { type: "string" }, json: { type: "boolean" }, reason: { type: "string" },
    });
    if (values.help) return io.out(certCommand.help + "\n"), 0;
    const sub = positionals[0];
    if (positionals.length !== 1) throw new UsageError("expected: gateway cert issue|list|revoke (see --help)");
    const config = configFrom(values, io.env);
    if (sub === "list") {
      await withDataDir(config, async ({ store }) => {
        const rows = await listCredentials(store, Date.now());
        io.out(values.json ? JSON.stringify(rows, null, 2) + "\n" : table(rows));
      });
      return 0;
    }
    if (sub === "revoke") {
      if (typeof values.name !== "string") throw new UsageError("--name is required");
      const reason = typeof values.reason === "string" ? values.reason : "unspecified";
      if (!isRevocationReason(reason)) throw new UsageError(`--reason must be one of ${REVOCATION_REASONS.join(", ")}`);
      const name = values.name;
      await withDataDir(config, async ({ store }) => {
        const r = await revokeCredential({ store, clock: Date.now }, name, reason, actor(io.env));
        io.out(r.alreadyRevoked ? `${r.role} credential ${r.name} was already revoked\n` : `revoked ${r.role} credential ${r.name} (${r.serials.length} certificate(s))\n`);
      });
      return 0;
    }
    if (sub !== "issue") throw new UsageError("expected: gateway cert issue|list|revoke (see --help)");
    const role = values.role;
    if (role !== "service" && role !== "admin") throw new UsageError("--role must be service or admin");
    if (typeof values.name !== "string") throw new UsageError("--name is required");
    if (typeof values.out !== "string") throw new UsageError("--out is required");
    const out = path.resolve(values.out);
    await withDataDir(config, async (dir) => {
      const r = await issueCredential({ store: dir.store, ca: dir.ca, clock: Date.now }, role, values.name as string, out, actor(io.env));
      io.out(`${r.certFile}\n${r.keyFile}\n`);
    });
    return 0;
  },
};
