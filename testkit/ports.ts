import net from "node:net";

/**
 * A TCP port on 127.0.0.1 that nothing listens on: bound on port 0, then closed.
 * For programs that cannot bind port 0 and report it (mosquitto, postgres), and
 * for tests that need a port where nothing answers.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
