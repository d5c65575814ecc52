import tls from "node:tls";
import { performance } from "node:perf_hooks";
import { Aedes, type Client } from "aedes";
import type { Deps } from "../runtime/deps.js";
import type { Metrics } from "../runtime/metrics.js";
import type { LoadedPki } from "../pki/data-dir-files.js";
import { toPem } from "../pki/der.js";
import { createHooks } from "./hooks.js";
import { ConnectionGuard } from "../front/guard.js";
import { LogThrottle } from "./log-throttle.js";
import { breakSyncRelease, capPacketSize, checkInternals, clientOfParser, gatePublish, muteSysAnnouncements, packetSizeCap, persistenceOf, storeOnlyGranted } from "./internals.js";
import { Connection, type ConnectionContext } from "./connection.js";
import { PeerCertCache } from "../pki/peer.js";
import { Presence } from "./presence.js";
import { RevocationFollower, type RevocationNotice } from "./revocation.js";
import { Sessions } from "./sessions.js";
import { SessionOwners } from "./session-owners.js";
import { StandingCache } from "./standing-cache.js";
import { who } from "./identity.js";
import { SessionPurger, type SessionPersistence } from "./session-purge.js";
import { refuseRenegotiation, tlsServerPolicy } from "../front/tls-policy.js";

/** Knobs for tests and benchmarks; the gateway runs with the defaults. */
export interface BrokerOptions {
  /** How often the revocation log is read (default 100 ms). */
  readonly revocationPollMs?: number;
  /** Router backlog (queued messages) above which client QoS 0 publishes are shed (default 10,000). */
  readonly maxRoutingBacklog?: number;
}

export interface BrokerHandle {
  readonly port: number;
  /** Stops accepting connections (first step of a drain); close() still closes the sessions. */
  stopAccepting(): void;
  /** Whether the listener accepts connections. */
  listening(): boolean;
  close(): Promise<void>;
}

/** Router backlog (queued messages) above which client QoS0 publishes are shed. */
const MAX_ROUTING_BACKLOG = 10_000;
/** Seconds a consumer's socket may stay above its high-water mark before aedes disconnects it. */
const DRAIN_TIMEOUT_MS = 30_000;

/** TLS failures a client causes by hanging up are not worth a log line above debug. */
const isHangup = (err: NodeJS.ErrnoException) => err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "ERR_SSL_PROTOCOL_ERROR" && /wrong version/.test(err.message);

/**
 * The mqtts listener (README "MQTT"): aedes (MQTT 3.1.1) on a node:tls server that
 * requires a client certificate from the gateway's CAs. Identity comes from the
 * certificate only (identity.ts), topics are policed by acl.ts, revocations
 * close live sessions (revocation.ts), and limits.ts plus the router guards in
 * internals.ts keep one client or a flood from taking the broker down. Each
 * connection has one owner (connection.ts) from TLS accept to close.
 *
 * The path of a PUBLISH: socket -> aedes parser (size cap, internals.ts) ->
 * hooks.ts authorizePublish -> Connection.publish (connection.ts: ACL, rate) ->
 * broker.publish gate (internals.ts: drop, QoS 0 shedding) -> router ->
 * hooks.ts authorizeForward -> Connection.forward (ACL, slow consumer) -> socket.
 */
export async function startBroker(d: Deps & { metrics: Metrics; pki: LoadedPki; verdicts?: PeerCertCache }, opts: BrokerOptions = {}): Promise<BrokerHandle> {
  // Before anything touches a library's internals: refuse versions they were not written for.
  checkInternals();
  const { config, log, clock, metrics } = d;
  const limits = config.limits;
  const throttle = new LogThrottle(log, clock);
  const sessions = new Sessions();
  const presence = new Presence(d, (id) => sessions.hasDevice(id));
  const standing = new StandingCache((serial) => d.store.certificates.standing(serial));
  let closing = false;
  const shared: ConnectionContext = {
    store: d.store, standing: (serial) => standing.standing(serial), clock, log, throttle, metrics, limits, sessions, presence, closing: () => closing,
    names: {
      isDevice: async (n) => (await d.store.devices.get(n)) !== undefined || (await d.store.tokens.everIssued(n)),
      credentialRole: (n) => d.store.certificates.credentialRole(n),
    },
    sessionOwners: new SessionOwners(),
  };

  const broker = new Aedes({
    ...createHooks({ log, throttle, metrics }),
    drainTimeout: DRAIN_TIMEOUT_MS,
    // Time from TLS established to CONNECT; front/guard.ts also bounds it until CONNACK 0.
    connectTimeout: limits.handshakeTimeoutMs,
    // Inbound QoS 2 awaiting PUBREL per client; outbound is bounded in Connection.forward.
    maxInflightInbound: limits.maxInflight,
  });
  await broker.listen();
  storeOnlyGranted(broker);
  log.debug({ guard: breakSyncRelease(broker) }, "router recursion guard installed");
  const maxBacklog = opts.maxRoutingBacklog ?? MAX_ROUTING_BACKLOG;
  gatePublish(broker, {
    maxBacklog,
    onShed: () => {
      metrics.messagesDropped.inc({ reason: "overload" });
      throttle.warn("overload", { code: "FG_MQTT_OVERLOADED", maxBacklog }, "router backlog full; shedding QoS 0 publishes");
    },
  });
  muteSysAnnouncements(broker, () => sessions.sysWatchers > 0);
  broker.on("connackSent", (packet, client) => {
    const conn = Connection.of(client);
    if (conn && packet.returnCode === 0) {
      guard.settle(conn.socket);
      metrics.connectLatency.observe((performance.now() - conn.tlsAt) / 1000);
    }
  });
  broker.on("unsubscribe", (topics, client) => Connection.of(client)?.unsubscribed(topics));
  broker.on("ping", (_packet, client) => Connection.of(client)?.touch());
  const onClientError = (client: Client, err: Error) => {
    // Refusals from authenticate were logged with their code already.
    if ((err as { code?: string }).code?.startsWith("FG_")) return;
    const id = Connection.of(client)?.identity;
    throttle.info(`clientError:${id?.serial}`, { code: "FG_MQTT_PROTOCOL", err: err.message, clientId: client.id, serial: id?.serial, ...who(id) }, "MQTT connection closed on error");
  };
  broker.on("clientError", onClientError);
  broker.on("connectionError", onClientError);
  // aedes emits 'error' for persistence failures; unhandled it would end the process.
  (broker as unknown as NodeJS.EventEmitter).on("error", (err: Error) => log.error({ err, code: "FG_INTERNAL" }, "MQTT broker error"));

  // Shared with the HTTPS listener when the gateway passes one: one verdict per certificate, whichever port it uses.
  const certs = d.verdicts ?? new PeerCertCache(d.pki.issuingDer);
  const server = tls.createServer({
    key: d.pki.serverKeyPem,
    cert: d.pki.serverCertChainPem,
    ca: [toPem(d.pki.rootDer, "CERTIFICATE"), toPem(d.pki.issuingDer, "CERTIFICATE")],
    requestCert: true,
    rejectUnauthorized: true,
    ...tlsServerPolicy(config.tlsSessionSeconds),
    handshakeTimeout: limits.handshakeTimeoutMs,
  });

  // Before TLS: pending caps and the connect rate (per address, with --connect-rate as the
  // ceiling); excess is closed before any TLS work is spent on it. A connection then has
  // handshakeTimeoutMs for TLS and as long again for CONNACK 0 (front/guard.ts).
  const guard = new ConnectionGuard(server, {
    listener: "mqtts",
    limits: {
      maxPending: limits.maxPendingConnections,
      maxPendingPerSource: limits.maxPendingPerAddress,
      rate: { perSource: limits.connectRatePerAddress, global: limits.connectRate },
    },
    timeoutMs: limits.handshakeTimeoutMs,
    settledBy: "connect",
    clock, log, metrics,
    closing: () => closing,
    onRefused: (reason) => metrics.connects.inc({ result: reason === "closing" ? "FG_MQTT_SHUTTING_DOWN" : reason.startsWith("rate") ? "FG_MQTT_CONNECT_RATE" : "FG_CONNECTION_LIMIT" }),
  });

  // Per-connection handlers are shared functions (`this` is the socket or parser),
  // so a connection costs no closures beyond what aedes allocates.
  const cappedParseLength = packetSizeCap(limits.maxPacketBytes, (parser, length) => {
    metrics.messagesDropped.inc({ reason: "too_large" });
    const st = Connection.of(clientOfParser(parser));
    throttle.info("too-large", { code: "FG_MQTT_PACKET_TOO_LARGE", length, max: limits.maxPacketBytes, serial: st?.cert?.facts?.serial, ...who(st?.identity) }, "MQTT packet too large; closing");
  });
  function onRenegotiation(socket: tls.TLSSocket): void {
    const f = Connection.ofSocket(socket)?.cert?.facts;
    throttle.warn("renegotiation", { code: "FG_TLS_RENEGOTIATION", serial: f?.serial, deviceId: f?.role === "device" ? f.commonName : undefined, remoteAddress: socket.remoteAddress }, "TLS renegotiation refused; connection closed");
  }
  function onDrain(this: tls.TLSSocket): void {
    Connection.ofSocket(this)?.drained();
  }
  function onClose(this: tls.TLSSocket): void {
    Connection.ofSocket(this)?.dispose();
  }

  server.on("secureConnection", (socket: tls.TLSSocket) => {
    // The identity is read from the certificate this handshake verified, once, and kept
    // for the connection's life (Connection.cert); no later handshake may replace it.
    refuseRenegotiation(socket, onRenegotiation);
    const conn = new Connection(shared, socket, performance.now(), certs.lookup(socket));
    conn.attach(broker.handle(socket));
    capPacketSize(conn.client!, cappedParseLength);
    socket.on("drain", onDrain);
    socket.once("close", onClose);
  });

  server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    // With rejectUnauthorized, node completes the handshake, records OpenSSL's verify
    // result in authorizationError and destroys the socket: that surfaces here as a hang-up.
    // A handshake past its deadline was closed, counted and logged by the front-door guard.
    if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT") return;
    const ae = socket.authorizationError as unknown; // a code string at runtime, typed as Error
    const verify = ae === undefined || ae === null ? undefined : typeof ae === "string" ? ae : String((ae as { code?: string }).code ?? ae);
    if (!verify && isHangup(err)) {
      log.debug({ err: err.message, remoteAddress: socket.remoteAddress }, "TLS client hung up");
      return;
    }
    const code = verify === "CERT_HAS_EXPIRED" || verify === "CERT_NOT_YET_VALID" ? "FG_CERT_EXPIRED" : "FG_MQTT_TLS_FAILED";
    metrics.connects.inc({ result: code });
    throttle.info(`tls:${code}`, { code, tlsError: verify ?? err.code, reason: verify ? "client certificate failed verification" : err.message, remoteAddress: socket.remoteAddress }, "TLS handshake failed");
  });

  function enforce(n: RevocationNotice): void {
    if (n.source === "log") metrics.revocations.inc();
    // First the cache, then the sessions: a CONNECT admitted before this point is a live session closed below.
    standing.forget(n);
    const targets = new Set<Client>(n.deviceId ? sessions.ofDevice(n.deviceId) : []);
    for (const s of n.serials) for (const c of sessions.ofSerial(s)) targets.add(c);
    const closes: Promise<void>[] = [];
    for (const c of targets) {
      const conn = Connection.of(c);
      if (!conn?.revoke()) continue;
      metrics.kicks.inc();
      log.info({ code: n.deviceId ? "FG_DEVICE_REVOKED" : "FG_CERT_REVOKED", clientId: c.id, source: n.source, ...who(conn.identity) }, "closing revoked MQTT session");
      closes.push(new Promise<void>((r) => c.close(() => r())));
    }
    if (!closing) purger.onRevoked(n, Promise.all(closes));
  }
  const purger = new SessionPurger(d, () => persistenceOf<SessionPersistence>(broker));
  const follower = new RevocationFollower(d, enforce, opts.revocationPollMs, (readable) => standing.clear(readable));

  // Follow the revocation log from before the first CONNECT can be admitted, so no
  // revocation falls between the log head and a certificate entering the cache.
  await follower.start();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.mqttsPort, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err, code: "FG_INTERNAL" }, "MQTT listener error"));
  presence.start();
  const port = (server.address() as { port: number }).port;

  let closed: Promise<void> | undefined;
  let listenerClosed: Promise<void> | undefined;
  // Refuse new connections (the guard closes any already accepted) and release the port; live sessions stay.
  const stopAccepting = () => {
    closing = true;
    listenerClosed ??= new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port,
    stopAccepting,
    listening: () => server.listening && !closing,
    close: () => (closed ??= (async () => {
      stopAccepting();
      follower.stop();
      // aedes closes every client connection, so devices reconnect to another node.
      await new Promise<void>((r) => broker.close(() => r()));
      // Handshakes still in progress are not aedes clients yet.
      guard.destroyPending();
      await listenerClosed;
      await presence.stop(sessions.devices());
    })()),
  };
}
