import { createTokenIn } from "./gateway-seam.js";
import { isValidName } from "../pki/roles.js";
import type { Store } from "../db/store.js";
import { GatewayError } from "../errors.js";

/** One line of `gateway token create --count N --prefix P`: "deviceId,token". */
export interface TokenLine {
  readonly deviceId: string;
  readonly token: string;
}

/**
 * Reads the CSV written by `token create --count`. Blank lines and lines
 * starting with '#' are skipped; anything else must be "deviceId,token" with a
 * valid device id, and an id may appear once. Errors name the line, never the token.
 */
export function parseTokensCsv(text: string): TokenLine[] {
  const out: TokenLine[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(",");
    const [deviceId, token] = parts.map((s) => s.trim());
    if (parts.length !== 2 || !deviceId || !token) throw new GatewayError("FG_USAGE", `tokens file line ${i + 1}: expected "deviceId,token"`);
    if (!isValidName(deviceId)) throw new GatewayError("FG_USAGE", `tokens file line ${i + 1}: invalid device id ${JSON.stringify(deviceId)}`);
    if (seen.has(deviceId)) throw new GatewayError("FG_USAGE", `tokens file line ${i + 1}: device ${deviceId} appears twice`);
    seen.add(deviceId);
    out.push({ deviceId, token });
  }
  return out;
}

/** Device ids P000001 .. P<n>, the simulator's own fleet (the ids a first `token create --count` batch makes; later batches continue after the highest id). */
export function deviceIds(prefix: string, count: number): string[] {
  const width = Math.max(6, String(count).length);
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, "0")}`);
  const bad = ids.find((id) => !isValidName(id));
  if (bad !== undefined) throw new GatewayError("FG_USAGE", `--prefix ${JSON.stringify(prefix)} makes invalid device ids such as ${JSON.stringify(bad)}`);
  return ids;
}

export interface MintResult {
  readonly tokens: Map<string, string>;
  /** Devices the registry refused a token for (e.g. revoked), with the error code. */
  readonly refused: Map<string, string>;
}

/**
 * Mints one-time tokens on the gateway's registry (README "CLI" and "Admin API", same code as
 * `gateway token create`), in batches of one transaction each so a big fleet
 * does not hold the write lock for long while a gateway is serving.
 */
export async function mintTokens(store: Store, ids: readonly string[], ttlSeconds: number, clock: () => number, batch = 500): Promise<MintResult> {
  const tokens = new Map<string, string>();
  const refused = new Map<string, string>();
  for (let i = 0; i < ids.length; i += batch) {
    await store.transaction(async (tx) => {
      for (const id of ids.slice(i, i + batch)) {
        try {
          // The simulator mints only for devices it holds no key for (no --state, or lost):
          // enrolling them again is what it is asked to do, so it re-provisions.
          // A refusal is thrown before any write, so the batch's transaction goes on without it.
          tokens.set(id, (await createTokenIn(tx, clock, id, ttlSeconds, "sim", { reprovision: true })).token);
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          refused.set(id, e.code);
        }
      }
    });
  }
  return { tokens, refused };
}
