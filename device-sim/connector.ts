import net from "node:net";
import tls from "node:tls";
import { MqttClient, type IClientOptions } from "mqtt";

/**
 * Builds MQTT-over-TLS clients for many identities from ONE options object.
 * The mqtt package's own reconnect is off (reconnectPeriod 0): the device
 * state machine decides when to retry, with its own backoff. The stream
 * builder is a single shared function; each client carries its identity's
 * tls.SecureContext in its options, so no closure is made per connection.
 */
export interface MqttTarget {
  readonly host: string;
  readonly port: number;
  /** SNI name; omitted for IP literals (RFC 6066 §3 forbids them in SNI). */
  readonly servername?: string;
}

export interface ConnectorOptions {
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
}

/**
 * Where a device keeps its last TLS session (RFC 8446 §2.2 ticket, RFC 5077),
 * so that a reconnect resumes instead of repeating the full handshake, as
 * firmware TLS stacks do. Bound to one certificate: clear it when the
 * certificate changes, or the gateway would resume the old identity.
 */
export interface TlsSessionSlot {
  session: Buffer | undefined;
}

interface FgClientOptions extends IClientOptions {
  fgSecureContext: tls.SecureContext;
  fgSession: TlsSessionSlot | undefined;
}

const NO_LOG = (): void => {};

const fullPeerCertificate = tls.TLSSocket.prototype.getPeerCertificate;

/**
 * Node checks the server's name (after OpenSSL has verified the chain against
 * the trust anchor) with getPeerCertificate(true): the whole chain converted to
 * JS objects, fingerprints and all, ~1 ms per handshake, the simulator's single
 * largest cost in a first-boot storm. tls.checkServerIdentity reads only the
 * leaf's subject and subjectaltname, which the abbreviated form carries, so the
 * checks are the same; only the conversion of the issuer chain is skipped.
 */
function abbreviatedPeerCertificate(this: tls.TLSSocket): tls.PeerCertificate {
  return fullPeerCertificate.call(this, false);
}

export function targetFromUrl(u: URL): MqttTarget {
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = u.port === "" ? 8883 : Number(u.port);
  return net.isIP(host) === 0 ? { host, port, servername: host } : { host, port };
}

/** One SecureContext per credential: key + certificate of the identity, and the gateway's trust anchor. */
export function secureContextFor(keyPem: string, certPem: string, caPem: string): tls.SecureContext {
  return tls.createSecureContext({ key: keyPem, cert: certPem, ca: caPem, minVersion: "TLSv1.2" });
}

export class MqttConnector {
  private readonly tlsBase: tls.ConnectionOptions;

  constructor(target: MqttTarget, private readonly o: ConnectorOptions) {
    this.tlsBase = Object.freeze({
      host: target.host,
      port: target.port,
      ...(target.servername === undefined ? {} : { servername: target.servername }),
      // The gateway is authenticated against the trust anchor in each SecureContext.
      rejectUnauthorized: true,
      minVersion: "TLSv1.2" as const,
    });
  }

  private readonly buildStream = (client: MqttClient): tls.TLSSocket => {
    const o = client.options as FgClientOptions;
    const slot = o.fgSession;
    const socket = tls.connect(slot?.session ? { ...this.tlsBase, secureContext: o.fgSecureContext, session: slot.session } : { ...this.tlsBase, secureContext: o.fgSecureContext });
    socket.getPeerCertificate = abbreviatedPeerCertificate as tls.TLSSocket["getPeerCertificate"];
    if (slot) socket.on("session", (session: Buffer) => (slot.session = session));
    return socket;
  };

  /** A client that starts connecting at once; listen for connect/error/close on it. With a slot, TLS sessions are resumed. */
  create(clientId: string, ctx: tls.SecureContext, session?: TlsSessionSlot): MqttClient {
    const opts: FgClientOptions = {
      clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: this.o.keepaliveS,
      // Do not restart the keepalive timer on every publish: one timer per client per keepalive period.
      reschedulePings: false,
      reconnectPeriod: 0,
      connectTimeout: this.o.connectTimeoutMs,
      resubscribe: false,
      queueQoSZero: false,
      fgSecureContext: ctx,
      fgSession: session,
      // mqtt.js traces every step through the `debug` package; a no-op saves that work on thousands of clients.
      log: NO_LOG,
    };
    return new MqttClient(this.buildStream as never, opts);
  }
}
