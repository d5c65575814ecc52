#!/usr/bin/env node
import "reflect-metadata";
import { type Command, type Io, UsageError, exitCodeFor } from "./cli/command.js";
import { startCommand } from "./cli/start.js";
import { tokenCommand } from "./cli/token.js";
import { devicesCommand } from "./cli/devices.js";
import { certCommand } from "./cli/cert.js";
import { simCommand } from "./cli/sim.js";

const COMMANDS: readonly Command[] = [startCommand, tokenCommand, devicesCommand, certCommand, simCommand];

const HELP = `Usage: gateway <command> [options]

fleetgate: IoT device enrollment (EST) and mutual-TLS MQTT gateway.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join("\n")}

Run "gateway <command> --help" for the options of a command.
Exit status: 0 success, 1 runtime failure, 2 usage error.
`;

export async function main(io: Io): Promise<number> {
  const [name, ...rest] = io.argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(HELP);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    return await cmd.run({ ...io, argv: rest });
  } catch (e) {
    const code = exitCodeFor(e);
    io.err(`gateway${cmd ? ` ${cmd.name}` : ""}: ${(e as Error).message}\n${code === 2 ? `Run "gateway ${cmd ? `${cmd.name} ` : ""}--help" for usage.\n` : ""}`);
    return code;
  }
}

// `gateway devices list | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

const io: Io = {
  argv: process.argv.slice(2),
  env: process.env,
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};
main(io).then((code) => {
  process.exitCode = code;
  // `start` returns only after shutdown; one-shot commands end here.
  if (io.argv[0] === "start" || io.argv[0] === "sim") setImmediate(() => process.exit(code));
});
