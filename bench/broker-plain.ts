/**
 * The baseline for bench/broker.ts: plain aedes 1.2.0 over node:tls with the
 * gateway's own server certificate and CAs (requestCert + rejectUnauthorized,
 * like the gateway) but no hooks: no identity, ACL, revocation or limits.
 * Run as a child process: `node dist/bench/broker-plain.js <dataDir> [aedes module path]`; prints {"port":n}.
 */
import tls from "node:tls";
import { gatewayTlsOptions } from "./lib/tls-server-options.js";
import type { Aedes as AedesClass } from "aedes";

// An optional second argument loads aedes from another path (bench/aedes-patch.ts: a patched copy).
const { Aedes } = (await import(process.argv[3] ?? "aedes")) as { Aedes: typeof AedesClass };

// The data directory layout (README "Configuration"), spelled out so this baseline loads nothing of the gateway.
const broker = await Aedes.createBroker();
const server = tls.createServer(gatewayTlsOptions(process.argv[2]!), broker.handle);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + "\n");
});
process.once("SIGTERM", () => {
  server.close();
  broker.close(() => process.exit(0));
});
