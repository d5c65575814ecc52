import type { Command } from "./command.js";

/** The fleet simulator (issue 6 fills this in). */
export const simCommand: Command = {
  name: "sim",
  summary: "run virtual devices against a running gateway",
  help: "Usage: gateway sim [options] (not implemented yet: issue 6)",
  async run(io) {
    if (io.argv.includes("--help") || io.argv.includes("-h")) return io.out(simCommand.help + "\n"), 0;
    io.err("gateway sim: not implemented yet\n");
    return 1;
  },
};
