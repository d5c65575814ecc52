import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger };

/**
 * Secrets never reach a log line: these paths are censored wherever they occur
 * (bootstrap tokens, passwords, private keys, Authorization headers).
 */
const REDACT = [
  "token", "*.token", "password", "*.password", "key", "*.key", "privateKey", "*.privateKey",
  "authorization", "*.authorization", "headers.authorization", "req.headers.authorization",
];

export interface LogOptions {
  level?: string;
  /** Where JSON lines go; defaults to stdout (fd 1). */
  destination?: DestinationStream | number;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const dest = opts.destination ?? 1;
  const stream = typeof dest === "number" ? pino.destination({ dest, sync: true }) : dest;
  return pino(
    {
      level: opts.level ?? "info",
      base: { svc: "fleetgate" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

/** A logger that drops everything, for CLI commands run with --quiet and for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
