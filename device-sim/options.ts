import { parseDuration } from "../runtime/duration.js";
import { GatewayError } from "../errors.js";
import { isValidName } from "../pki/roles.js";
import { type RenewAt, DEFAULT_RENEW_AT, parseRenewAt } from "./renewal.js";
import { type ScenarioName, SCENARIOS, isScenarioName } from "./scenarios/index.js";

/** Every option of `gateway sim` (device-sim/README.md plus --scenario, --renew-at, --revoke, --prefix, --ca), validated. */
export interface SimOptions {
  /** undefined: as many as the --tokens file has lines. */
  readonly devices: number | undefined;
  readonly concurrency: number;
  readonly rate: number;
  readonly durationS: number;
  /** Longest boot phase, seconds. */
  readonly startTimeoutS: number;
  readonly qos: 0 | 1;
  readonly payloadBytes: number;
  readonly data: string | undefined;
  readonly tokens: string | undefined;
  /** Directory of manufacturer credentials <id>.pem + <id>.key (enrollment by certificate instead of token). */
  readonly idevid: string | undefined;
  readonly state: string | undefined;
  readonly ca: string | undefined;
  readonly est: URL;
  readonly mqtt: URL;
  readonly out: string | undefined;
  readonly scenario: ScenarioName;
  readonly renewAt: RenewAt;
  /** Devices the revoke drill revokes. */
  readonly revoke: number;
  readonly prefix: string;
}

export const SIM_DEFAULTS = Object.freeze({
  devices: 10,
  concurrency: 100,
  rate: 1,
  duration: "30s",
  startTimeout: "5m",
  qos: 1,
  payloadBytes: 100,
  est: "https://127.0.0.1:8443",
  mqtt: "mqtts://127.0.0.1:8883",
  prefix: "sim-",
});

export const MAX_DEVICES = 100_000;
export const MAX_PAYLOAD_BYTES = 131_072;

/** node:util parseArgs option table for `gateway sim`. */
export const SIM_FLAGS = {
  devices: { type: "string" },
  concurrency: { type: "string" },
  rate: { type: "string" },
  duration: { type: "string" },
  "start-timeout": { type: "string" },
  qos: { type: "string" },
  "payload-bytes": { type: "string" },
  data: { type: "string" },
  tokens: { type: "string" },
  idevid: { type: "string" },
  state: { type: "string" },
  ca: { type: "string" },
  est: { type: "string" },
  mqtt: { type: "string" },
  out: { type: "string" },
  scenario: { type: "string" },
  "renew-at": { type: "string" },
  revoke: { type: "string" },
  prefix: { type: "string" },
} as const;

const usage = (msg: string): never => {
  throw new GatewayError("FG_USAGE", msg);
};

function int(raw: string | undefined, flag: string, min: number, max: number, def: number): number {
  if (raw === undefined) return def;
  if (!/^\d{1,9}$/.test(raw.trim())) usage(`--${flag} must be a whole number (got ${JSON.stringify(raw)})`);
  const n = Number(raw.trim());
  if (n < min || n > max) usage(`--${flag} must be between ${min} and ${max} (got ${n})`);
  return n;
}

function url(raw: string, flag: string, protocol: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return usage(`--${flag} must be a URL such as ${protocol}//127.0.0.1 (got ${JSON.stringify(raw)})`);
  }
  if (u.protocol !== protocol) usage(`--${flag} must use ${protocol} (got ${JSON.stringify(raw)})`);
  return u;
}

/** Validates parsed flags; every problem is a usage error (exit 2) naming the flag. */
export function simOptionsFrom(v: Readonly<Record<string, string | boolean | undefined>>): SimOptions {
  const s = (k: keyof typeof SIM_FLAGS): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const devicesRaw = s("devices");
  const devices = devicesRaw === undefined ? (s("tokens") ? undefined : SIM_DEFAULTS.devices) : int(devicesRaw, "devices", 1, MAX_DEVICES, 0);
  const rateRaw = s("rate") ?? String(SIM_DEFAULTS.rate);
  if (!/^\d{1,6}(\.\d{1,6})?$/.test(rateRaw.trim())) usage(`--rate must be a number of messages per second (got ${JSON.stringify(rateRaw)})`);
  const rate = Number(rateRaw);
  if (!(rate > 0 && rate <= 1000)) usage(`--rate must be above 0 and at most 1000 (got ${rateRaw})`);
  const durationS = parseDuration(s("duration") ?? SIM_DEFAULTS.duration, "--duration");
  const qosRaw = s("qos") ?? String(SIM_DEFAULTS.qos);
  if (qosRaw !== "0" && qosRaw !== "1") usage(`--qos must be 0 or 1 (got ${JSON.stringify(qosRaw)})`);
  const scenarioText = s("scenario");
  if (scenarioText !== undefined && !isScenarioName(scenarioText)) usage(`--scenario must be one of ${SCENARIOS.join(", ")}`);
  const scenarioRaw = scenarioText as ScenarioName | undefined;
  const revokeRaw = s("revoke");
  if (revokeRaw !== undefined && scenarioRaw !== undefined && scenarioRaw !== "revoke-drill") usage("--revoke goes with --scenario revoke-drill");
  const scenario: ScenarioName = scenarioRaw ?? (revokeRaw !== undefined ? "revoke-drill" : "first-boot");
  const revoke = int(revokeRaw, "revoke", 1, MAX_DEVICES, Math.max(1, Math.round((devices ?? 10) / 10)));
  if (devices !== undefined && revoke > devices) usage(`--revoke ${revoke} is more than --devices ${devices}`);
  const data = s("data");
  const tokens = s("tokens");
  const idevid = s("idevid");
  const state = s("state");
  const ca = s("ca");
  if (data === undefined && ca === undefined) usage("give --data DIR (the gateway's data directory) or --ca FILE (its pki/ca.pem) so the simulator can verify the gateway");
  if (data === undefined && tokens === undefined && idevid === undefined && state === undefined) {
    usage("devices need a way to enroll: give --data DIR (mint tokens), --tokens FILE, --idevid DIR, or --state DIR with enrolled devices");
  }
  if (tokens !== undefined && idevid !== undefined) usage("give either --tokens or --idevid, not both");
  if (scenario === "revoke-drill" && data === undefined) usage("--scenario revoke-drill needs --data DIR (the admin credential revokes through the admin API)");
  const prefix = s("prefix") ?? SIM_DEFAULTS.prefix;
  if (!isValidName(`${prefix}000001`)) usage(`--prefix ${JSON.stringify(prefix)} does not make valid device ids`);
  const renewRaw = s("renew-at");
  return Object.freeze({
    devices,
    concurrency: int(s("concurrency"), "concurrency", 1, 10_000, SIM_DEFAULTS.concurrency),
    rate,
    durationS,
    startTimeoutS: parseDuration(s("start-timeout") ?? SIM_DEFAULTS.startTimeout, "--start-timeout"),
    qos: qosRaw === "0" ? 0 : 1,
    payloadBytes: int(s("payload-bytes"), "payload-bytes", 0, MAX_PAYLOAD_BYTES, SIM_DEFAULTS.payloadBytes),
    data, tokens, idevid, state, ca,
    est: url(s("est") ?? SIM_DEFAULTS.est, "est", "https:"),
    mqtt: url(s("mqtt") ?? SIM_DEFAULTS.mqtt, "mqtt", "mqtts:"),
    out: s("out"),
    scenario,
    renewAt: renewRaw === undefined ? DEFAULT_RENEW_AT : parseRenewAt(renewRaw),
    revoke,
    prefix,
  });
}
