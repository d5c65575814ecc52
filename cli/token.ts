import { parseDuration } from "../config.js";
import { createToken, createTokenIn, listTokens, nextBatchIds, revokeTokens, type TokenView } from "../enroll/tokens.js";
import { type Command, GATEWAY_FLAGS, UsageError, actor, configFrom, parse } from "./command.js";
import { withDataDir } from "./context.js";

const MAX_COUNT = 1_000_000;

function table(rows: TokenView[]): string {
  const head = ["DEVICE", "CREATED", "EXPIRES", "REPROVISION"];
  const body = rows.map((t) => [t.deviceId, t.createdAt, t.expiresAt, t.reprovision ? "yes" : "no"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

export const tokenCommand: Command = {
  name: "token",
  summary: "create, list or cancel one-time bootstrap tokens for EST enrollment",
  help: `Usage:
  gateway token create <deviceId> [--ttl 24h] [--reprovision] [--data DIR]
      prints the token alone on stdout
  gateway token create --count N --prefix P [--ttl 24h] [--data DIR]
      prints CSV lines "deviceId,token" for N new ids P000001, P000002, ...
      numbered after the highest P<digits> id already held by a device or a token
  gateway token list [--json] [--data DIR]
      outstanding (unused, unexpired) tokens by device id, never the secrets;
      --json prints [{ deviceId, createdAt, expiresAt, reprovision }]
  gateway token revoke <deviceId> [--data DIR]
      cancels the device's outstanding tokens

A token authorizes one enrollment (HTTP Basic <deviceId>:<token> on
/.well-known/est/simpleenroll) and expires after --ttl (default 24h).
Only a hash of each token is stored.
A token for a device that already has a valid certificate needs --reprovision:
its certificates stay valid until it enrolls with the new token, and are then
revoked as superseded. A device id may not be the name of a service or admin
credential (one name space).`,
  async run(io) {
    const { values, positionals } = parse(io.argv, {
      ...GATEWAY_FLAGS, ttl: { type: "string" }, count: { type: "string" }, prefix: { type: "string" }, reprovision: { type: "boolean" }, json: { type: "boolean" },
    });
    if (values.help) return io.out(tokenCommand.help + "\n"), 0;
    const sub = positionals[0];
    const config = configFrom(values, io.env);
    const who = actor(io.env);
    if (sub === "list") {
      if (positionals.length !== 1) throw new UsageError("token list takes no arguments");
      await withDataDir(config, async ({ store }) => {
        const rows = await listTokens(store, Date.now());
        io.out(values.json ? JSON.stringify(rows, null, 2) + "\n" : table(rows));
      });
      return 0;
    }
    if (sub === "revoke") {
      if (positionals.length !== 2) throw new UsageError("expected: gateway token revoke <deviceId>");
      await withDataDir(config, async ({ store }) => {
        const r = await revokeTokens({ store, clock: Date.now }, positionals[1]!, who);
        io.out(r.cancelled === 0 ? `device ${r.deviceId} had no outstanding token\n` : `cancelled ${r.cancelled} token(s) of device ${r.deviceId}\n`);
      });
      return 0;
    }
    if (sub !== "create") throw new UsageError("expected: gateway token create|list|revoke (see --help)");
    const ttl = parseDuration(typeof values.ttl === "string" ? values.ttl : "24h", "--ttl");
    if (values.count !== undefined || values.prefix !== undefined) {
      if (positionals.length > 1) throw new UsageError("give either <deviceId> or --count/--prefix, not both");
      if (values.reprovision) throw new UsageError("--reprovision applies to one device id, not to a batch (a batch only makes new ids)");
      const count = Number(values.count);
      if (!/^\d+$/.test(String(values.count)) || count < 1 || count > MAX_COUNT) throw new UsageError(`--count must be 1 to ${MAX_COUNT}`);
      if (typeof values.prefix !== "string") throw new UsageError("--count needs --prefix");
      const prefix = values.prefix;
      await withDataDir(config, async ({ store }) => {
        const lines: string[] = [];
        // Numbered and created in one write transaction: two batches at once cannot pick the same ids.
        await store.transaction(async (tx) => {
          for (const id of await nextBatchIds(tx, prefix, count)) lines.push(`${id},${(await createTokenIn(tx, Date.now, id, ttl, who)).token}`);
        });
        io.out(lines.join("\n") + "\n");
      });
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError("expected: gateway token create <deviceId>");
    await withDataDir(config, async ({ store }) =>
      io.out((await createToken({ store, clock: Date.now }, positionals[1]!, ttl, who, { reprovision: values.reprovision === true })).token + "\n"));
    return 0;
  },
};
