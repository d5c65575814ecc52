import { parseArgs, type ParseArgsConfig } from "node:util";
import { GatewayError } from "../errors.js";
import { resolveConfig, settingOptions, SETTINGS, type GatewayConfig, type Setting } from "../config.js";

export interface Io {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(io: Io): Promise<number>;
}

export class UsageError extends GatewayError {
  constructor(message: string) {
    super("FG_USAGE", message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs in strict mode; unknown flags and missing values are usage errors (exit 2). */
export function parse<O extends Options>(argv: readonly string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: [...argv], options: { ...options, help: { type: "boolean" as const, short: "h" } }, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Every command accepts the gateway settings (README "Configuration"), so --data etc. work everywhere. */
export const GATEWAY_FLAGS = settingOptions();

export function configFrom(values: Record<string, string | boolean | (string | boolean)[] | undefined>, env: NodeJS.ProcessEnv): GatewayConfig {
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [k, v] of Object.entries(values)) if (!Array.isArray(v)) flags[k] = v;
  return resolveConfig(flags, env);
}

export const SETTINGS_HELP = Object.values(SETTINGS as Record<string, Setting>)
  .map((s) => `  --${s.flag.padEnd(25)} env ${s.env.padEnd(33)} default ${s.def ?? s.defHelp ?? "(none)"}`)
  .join("\n");

/** Exit codes (README "Configuration"): 0 success, 1 runtime failure, 2 usage error. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof GatewayError && ["FG_USAGE", "FG_CONFIG_INVALID", "FG_DEVICE_ID_INVALID", "FG_NAME_INVALID"].includes(e.code)) return 2;
  return 1;
}

export function actor(env: NodeJS.ProcessEnv): string {
  return `cli:${env.USER ?? env.LOGNAME ?? "unknown"}`;
}
