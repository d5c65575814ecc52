import path from "node:path";
import { issueCredential } from "../enroll/credentials.js";
import { type Command, GATEWAY_FLAGS, UsageError, actor, configFrom, parse } from "./command.js";
import { withDataDir } from "./context.js";

export const certCommand: Command = {
  name: "cert",
  summary: "issue service or admin client credentials",
  help: `Usage: gateway cert issue --role service|admin --name NAME --out DIR [--data DIR]

Writes DIR/NAME.pem (certificate) and DIR/NAME.key (private key, mode 0600).
The role is carried in the certificate (a certificate policy OID set by the CA),
so it cannot be claimed through a CSR. Devices get certificates only through EST.`,
  async run(io) {
    const { values, positionals } = parse(io.argv, { ...GATEWAY_FLAGS, role: { type: "string" }, name: { type: "string" }, out: { type: "string" } });
    if (values.help) return io.out(certCommand.help + "\n"), 0;
    if (positionals[0] !== "issue" || positionals.length !== 1) throw new UsageError("expected: gateway cert issue --role ... --name ... --out ...");
    const role = values.role;
    if (role !== "service" && role !== "admin") throw new UsageError("--role must be service or admin");
    if (typeof values.name !== "string") throw new UsageError("--name is required");
    if (typeof values.out !== "string") throw new UsageError("--out is required");
    const config = configFrom(values, io.env);
    const out = path.resolve(values.out);
    await withDataDir(config, (dir) => {
      const r = issueCredential({ store: dir.store, ca: dir.ca, clock: Date.now }, role, values.name as string, out, actor(io.env));
      io.out(`${r.certFile}\n${r.keyFile}\n`);
    });
    return 0;
  },
};
