import { parseDuration } from "../config.js";
import { createToken } from "../enroll/tokens.js";
import { type Command, GATEWAY_FLAGS, UsageError, actor, configFrom, parse } from "./command.js";
import { withDataDir } from "./context.js";

const MAX_COUNT = 1_000_000;

export const tokenCommand: Command = {
  name: "token",
  summary: "create one-time bootstrap tokens for EST enrollment",
  help: `Usage:
  gateway token create <deviceId> [--ttl 24h] [--data DIR]
      prints the token alone on stdout
  gateway token create --count N --prefix P [--ttl 24h] [--data DIR]
      prints CSV lines "deviceId,token" for P000001 ... P<N>

A token authorizes one enrollment (HTTP Basic <deviceId>:<token> on
/.well-known/est/simpleenroll) and expires after --ttl (default 24h).
Only a hash of each token is stored.`,
  async run(io) {
    const { values, positionals } = parse(io.argv, { ...GATEWAY_FLAGS, ttl: { type: "string" }, count: { type: "string" }, prefix: { type: "string" } });
    if (values.help) return io.out(tokenCommand.help + "\n"), 0;
    if (positionals[0] !== "create") throw new UsageError("expected: gateway token create ... (see --help)");
    const ttl = parseDuration(typeof values.ttl === "string" ? values.ttl : "24h", "--ttl");
    const config = configFrom(values, io.env);
    const who = actor(io.env);
    if (values.count !== undefined || values.prefix !== undefined) {
      if (positionals.length > 1) throw new UsageError("give either <deviceId> or --count/--prefix, not both");
      const count = Number(values.count);
      if (!/^\d+$/.test(String(values.count)) || count < 1 || count > MAX_COUNT) throw new UsageError(`--count must be 1 to ${MAX_COUNT}`);
      if (typeof values.prefix !== "string") throw new UsageError("--count needs --prefix");
      const width = Math.max(6, String(count).length);
      const ids = Array.from({ length: count }, (_, i) => `${values.prefix}${String(i + 1).padStart(width, "0")}`);
      await withDataDir(config, ({ store }) => {
        const lines: string[] = [];
        store.transaction(() => {
          for (const id of ids) lines.push(`${id},${createToken({ store, clock: Date.now }, id, ttl, who).token}`);
        });
        io.out(lines.join("\n") + "\n");
      });
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError("expected: gateway token create <deviceId>");
    await withDataDir(config, ({ store }) => io.out(createToken({ store, clock: Date.now }, positionals[1]!, ttl, who).token + "\n"));
    return 0;
  },
};
