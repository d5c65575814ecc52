import type { Server, TLSSocket } from "node:tls";
import { refuseRenegotiation } from "../front/tls-policy.js";
import { classifyPeer, type HttpsPeer, type TrustAnchors } from "../pki/peer.js";

/**
 * Binds each HTTPS connection to the certificate its handshake verified: the
 * peer is classified once at 'secureConnection' and that verdict serves every
 * request on the connection. Renegotiation is refused on the socket, so the
 * peer certificate cannot change underneath (and would not be read again).
 */
export function bindPeers(server: Server, anchors: TrustAnchors, onRenegotiation?: (socket: TLSSocket, peer: HttpsPeer) => void): (socket: TLSSocket) => HttpsPeer {
  const peers = new WeakMap<TLSSocket, HttpsPeer>();
  const attempted = onRenegotiation && ((socket: TLSSocket) => onRenegotiation(socket, peers.get(socket) ?? { kind: "none" }));
  server.prependListener("secureConnection", (socket: TLSSocket) => {
    refuseRenegotiation(socket, attempted);
    let peer: HttpsPeer;
    try {
      peer = classifyPeer(socket, anchors);
    } catch (e) {
      // A throw here would end the process: whatever the client sent, it is refused instead.
      peer = { kind: "untrusted", reason: `unclassifiable certificate: ${(e as Error).message}` };
    }
    peers.set(socket, peer);
  });
  return (socket) => peers.get(socket) ?? { kind: "untrusted", reason: "connection was not classified at its handshake" };
}
