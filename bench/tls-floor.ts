/**
 * The floor for bench:vs-mosquitto's connect and idle-memory figures: Node's
 * own TLS server (node:tls, the gateway's certificate, CAs and options) that
 * answers an MQTT CONNECT with a fixed CONNACK and closes on DISCONNECT, with
 * no MQTT library at all. Whatever this costs, no broker written on node:tls
 * can cost less. Run as a child process: `node dist/bench/tls-floor.js <dataDir>`;
 * prints {"port":n}.
 */
import tls from "node:tls";
import { gatewayTlsOptions } from "./lib/tls-server-options.js";

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const server = tls.createServer(gatewayTlsOptions(process.argv[2]!), (socket) => {
  // MQTT.js writes CONNECT and DISCONNECT each in one write; the first byte is the packet type.
  socket.on("data", (d: Buffer) => {
    if (d[0] === 0x10) socket.write(CONNACK);
    else if (d[0] === 0xe0) socket.end();
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + "\n");
});
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
