import { createLogger } from "../log.js";
import { startGateway } from "../runtime/gateway.js";
import { type Command, GATEWAY_FLAGS, SETTINGS_HELP, configFrom, parse } from "./command.js";

export const startCommand: Command = {
  name: "start",
  summary: "run the gateway (EST + admin API on HTTPS, MQTT over TLS, metrics)",
  help: `Usage: gateway start [options]

Runs the gateway. On the first start it creates the data directory, the
database, the PKI and the admin credential; later starts reuse them.
Logs JSON lines to stdout; the line with "msg":"ready" carries the bound ports.
SIGINT or SIGTERM drains and exits with 0: /readyz answers 503, both
listeners stop accepting, MQTT sessions are closed (devices reconnect
elsewhere), then the database closes.

Options (flag, environment variable, default):
${SETTINGS_HELP}`,
  async run(io) {
    const { values } = parse(io.argv, GATEWAY_FLAGS, false);
    if (values.help) return io.out(startCommand.help + "\n"), 0;
    const config = configFrom(values, io.env);
    const log = createLogger({ level: config.logLevel });
    // Handlers go in before anything listens: a signal that arrives right after
    // the ready line (or during start-up) must still mean a clean shutdown.
    let signalled: (signal: string) => void = () => {};
    const stopRequested = new Promise<string>((resolve) => (signalled = resolve));
    process.once("SIGINT", () => signalled("SIGINT"));
    process.once("SIGTERM", () => signalled("SIGTERM"));
    // Keep serving through stray errors: one bad socket must not take the fleet down.
    process.on("uncaughtException", (e) => log.error({ err: e, code: "FG_INTERNAL" }, "uncaught exception"));
    process.on("unhandledRejection", (e) => log.error({ err: e, code: "FG_INTERNAL" }, "unhandled rejection"));
    const gw = await startGateway(config, log);
    const signal = await stopRequested;
    log.info({ signal }, "shutting down: draining");
    try {
      await gw.close();
    } catch (e) {
      log.error({ err: e }, "shutdown failed");
    }
    log.info("stopped");
    return 0;
  },
};
