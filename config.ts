import { GatewayError } from "./errors.js";
import { parseDuration } from "./runtime/duration.js";
import path from "node:path";

/**
 * Configuration is read once, at the edge (CLI), into one typed, frozen object.
 * Precedence (README "Configuration"): flags, then environment variables, then defaults.
 */
export interface Limits {
  /** Largest MQTT packet accepted, bytes (larger ones close the connection). */
  readonly maxPacketBytes: number;
  /** Sustained publishes per second per client (token bucket refill rate). */
  readonly publishRate: number;
  /** Token bucket size: publishes a client may burst above the rate. */
  readonly publishBurst: number;
  /** Seconds of continuous rate-limit drops after which a client is disconnected. */
  readonly publishAbuseSeconds: number;
  readonly maxSubscriptions: number;
  /** Outgoing QoS1/2 messages queued per client before new ones are dropped. */
  readonly maxInflight: number;
  /** New MQTT connections per second accepted by this process (token bucket): the ceiling over all sources. */
  readonly connectRate: number;
  /** New MQTT connections per second accepted from one source address (IPv6: one /64). */
  readonly connectRatePerAddress: number;
  /** Milliseconds a new connection has to finish TLS, then again to get CONNACK 0 (MQTT) or send a request (HTTPS). */
  readonly handshakeTimeoutMs: number;
  /** Connections per listener not yet through the front door (in TLS, then before CONNACK 0 or a first HTTPS request). */
  readonly maxPendingConnections: number;
  /** Of those, from one source address (IPv6: one /64). */
  readonly maxPendingPerAddress: number;
  /** Failed EST authentications per minute per address before 429 (issue 3). */
  readonly authFailuresPerMinute: number;
}

export interface GatewayConfig {
  readonly dataDir: string;
  /** PostgreSQL registry URL (postgres:// or postgresql://); undefined: SQLite gateway.db in the data directory. */
  readonly database: string | undefined;
  readonly host: string;
  readonly httpsPort: number;
  readonly mqttsPort: number;
  readonly metricsPort: number;
  readonly hostnames: readonly string[];
  readonly certDays: number;
  readonly bootstrapCaFile: string | undefined;
  readonly caCurve: "P-256" | "P-384";
  readonly logLevel: string;
  readonly limits: Limits;
  /** TLS session (ticket) lifetime in seconds on both listeners; not a flag, tests shorten it (tls-policy.ts). */
  readonly tlsSessionSeconds?: number;
}

type Kind = "string" | "database" | "port" | "int" | "list" | "curve" | "level";
export interface Setting { flag: string; env: string; def: string | undefined; kind: Kind; min?: number; max?: number; /** For --help when the default is derived. */ defHelp?: string }

/** Every setting, its flag, env variable and default. The README table mirrors this. */
export const SETTINGS = {
  dataDir: { flag: "data", env: "GATEWAY_DATA_DIR", def: "./data", kind: "string" },
  database: { flag: "database", env: "GATEWAY_DATABASE_URL", def: undefined, kind: "database", defHelp: "SQLite gateway.db in the data directory" },
  host: { flag: "host", env: "GATEWAY_HOST", def: "0.0.0.0", kind: "string" },
  httpsPort: { flag: "https-port", env: "GATEWAY_HTTPS_PORT", def: "8443", kind: "port" },
  mqttsPort: { flag: "mqtts-port", env: "GATEWAY_MQTTS_PORT", def: "8883", kind: "port" },
  metricsPort: { flag: "metrics-port", env: "GATEWAY_METRICS_PORT", def: "9464", kind: "port" },
  hostnames: { flag: "hostnames", env: "GATEWAY_HOSTNAMES", def: "localhost,127.0.0.1", kind: "list" },
  certDays: { flag: "cert-days", env: "GATEWAY_CERT_DAYS", def: "30", kind: "int", min: 1, max: 3650 },
  bootstrapCaFile: { flag: "bootstrap-ca", env: "GATEWAY_BOOTSTRAP_CA", def: undefined, kind: "string" },
  caCurve: { flag: "ca-curve", env: "GATEWAY_CA_CURVE", def: "P-256", kind: "curve" },
  logLevel: { flag: "log-level", env: "GATEWAY_LOG_LEVEL", def: "info", kind: "level" },
  maxPacketBytes: { flag: "max-packet-bytes", env: "GATEWAY_MAX_PACKET_BYTES", def: "131072", kind: "int", min: 1024, max: 268435455 },
  publishRate: { flag: "publish-rate", env: "GATEWAY_PUBLISH_RATE", def: "100", kind: "int", min: 1, max: 1000000 },
  publishBurst: { flag: "publish-burst", env: "GATEWAY_PUBLISH_BURST", def: "200", kind: "int", min: 1, max: 1000000 },
  publishAbuseSeconds: { flag: "publish-abuse-seconds", env: "GATEWAY_PUBLISH_ABUSE_SECONDS", def: "10", kind: "int", min: 1, max: 3600 },
  maxSubscriptions: { flag: "max-subscriptions", env: "GATEWAY_MAX_SUBSCRIPTIONS", def: "50", kind: "int", min: 1, max: 100000 },
  maxInflight: { flag: "max-inflight", env: "GATEWAY_MAX_INFLIGHT", def: "1000", kind: "int", min: 1, max: 1000000 },
  connectRate: { flag: "connect-rate", env: "GATEWAY_CONNECT_RATE", def: "2000", kind: "int", min: 1, max: 1000000 },
  // Unset: a tenth of --connect-rate (at least 1), so one host never holds the whole budget.
  connectRatePerAddress: { flag: "connect-rate-per-address", env: "GATEWAY_CONNECT_RATE_PER_ADDRESS", def: undefined, kind: "int", min: 1, max: 1000000, defHelp: "connect-rate / 10" },
  handshakeTimeoutMs: { flag: "handshake-timeout-ms", env: "GATEWAY_HANDSHAKE_TIMEOUT_MS", def: "5000", kind: "int", min: 100, max: 120000 },
  maxPendingConnections: { flag: "max-pending-connections", env: "GATEWAY_MAX_PENDING_CONNECTIONS", def: "512", kind: "int", min: 1, max: 1000000 },
  maxPendingPerAddress: { flag: "max-pending-per-address", env: "GATEWAY_MAX_PENDING_PER_ADDRESS", def: "128", kind: "int", min: 1, max: 1000000 },
  authFailuresPerMinute: { flag: "auth-failure-limit", env: "GATEWAY_AUTH_FAILURE_LIMIT", def: "20", kind: "int", min: 1, max: 1000000 },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** Options for node:util parseArgs, so every subcommand accepts the same gateway flags. */
export function settingOptions(names: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[]) {
  const out: Record<string, { type: "string" }> = {};
  for (const n of names) out[SETTINGS[n].flag] = { type: "string" };
  return out;
}

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

function bad(name: SettingName, source: string, raw: string, why: string): never {
  const s: Setting = SETTINGS[name];
  throw new GatewayError("FG_CONFIG_INVALID", `invalid ${source === "flag" ? `--${s.flag}` : s.env}=${JSON.stringify(raw)}: ${why}`);
}

function parseValue(name: SettingName, raw: string, source: string): unknown {
  const s: Setting = SETTINGS[name];
  switch (s.kind) {
    case "string":
      if (raw.trim() === "") bad(name, source, raw, "must not be empty");
      return raw;
    case "database": {
      // Only PostgreSQL URLs select another backend; anything else is a usage error, never a silent fallback to SQLite.
      let u: URL | undefined;
      try {
        u = new URL(raw);
      } catch {
        u = undefined;
      }
      if (!u || !/^postgres(ql)?:\/\//.test(raw)) bad(name, source, raw.replace(/\/\/[^@/]*@/, "//***@"), "must be a postgres:// or postgresql:// URL");
      return raw;
    }
    case "port": {
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) bad(name, source, raw, "must be a port number 0-65535");
      return Number(raw);
    }
    case "int": {
      if (!/^\d{1,10}$/.test(raw)) bad(name, source, raw, "must be a whole number");
      const n = Number(raw);
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) bad(name, source, raw, `must be between ${s.min} and ${s.max}`);
      return n;
    }
    case "list": {
      const items = raw.split(",").map((x) => x.trim()).filter(Boolean);
      if (items.length === 0) bad(name, source, raw, "must name at least one host");
      for (const h of items) if (!/^[A-Za-z0-9.:*-]{1,253}$/.test(h)) bad(name, source, raw, `${JSON.stringify(h)} is not a host name or IP`);
      return Object.freeze(items);
    }
    case "curve":
      if (raw !== "P-256" && raw !== "P-384") bad(name, source, raw, "must be P-256 or P-384");
      return raw;
    case "level":
      if (!LEVELS.has(raw)) bad(name, source, raw, `must be one of ${[...LEVELS].join(", ")}`);
      return raw;
  }
}

/**
 * Resolves the configuration from parsed flags and an environment. Throws a
 * GatewayError(FG_CONFIG_INVALID) naming the offending flag or variable.
 */
export function resolveConfig(flags: Readonly<Record<string, string | boolean | undefined>>, env: NodeJS.ProcessEnv): GatewayConfig {
  const v: Record<string, unknown> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const s: Setting = SETTINGS[name];
    const fromFlag = flags[s.flag];
    if (typeof fromFlag === "string") v[name] = parseValue(name, fromFlag, "flag");
    else if (env[s.env] !== undefined && env[s.env] !== "") v[name] = parseValue(name, env[s.env]!, "env");
    else v[name] = s.def === undefined ? undefined : parseValue(name, s.def, "default");
  }
  const limits: Limits = Object.freeze({
    maxPacketBytes: v.maxPacketBytes as number,
    publishRate: v.publishRate as number,
    publishBurst: v.publishBurst as number,
    publishAbuseSeconds: v.publishAbuseSeconds as number,
    maxSubscriptions: v.maxSubscriptions as number,
    maxInflight: v.maxInflight as number,
    connectRate: v.connectRate as number,
    connectRatePerAddress: (v.connectRatePerAddress as number | undefined) ?? Math.max(1, Math.floor((v.connectRate as number) / 10)),
    handshakeTimeoutMs: v.handshakeTimeoutMs as number,
    maxPendingConnections: v.maxPendingConnections as number,
    maxPendingPerAddress: v.maxPendingPerAddress as number,
    authFailuresPerMinute: v.authFailuresPerMinute as number,
  });
  return Object.freeze({
    dataDir: path.resolve(v.dataDir as string),
    database: v.database as string | undefined,
    host: v.host as string,
    httpsPort: v.httpsPort as number,
    mqttsPort: v.mqttsPort as number,
    metricsPort: v.metricsPort as number,
    hostnames: v.hostnames as readonly string[],
    certDays: v.certDays as number,
    bootstrapCaFile: v.bootstrapCaFile === undefined ? undefined : path.resolve(v.bootstrapCaFile as string),
    caCurve: v.caCurve as "P-256" | "P-384",
    logLevel: v.logLevel as string,
    limits,
  });
}

/** Re-exported for CLI commands that take durations (token TTL, --expiring). */
export { parseDuration };
