import type { TLSSocket } from "node:tls";
import type { AedesPublishPacket, Client, PublishPacket, Subscription } from "aedes";
import type { Store } from "../db/store.js";
import type { CertStanding } from "../db/types.js";
import type { Limits } from "../config.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../runtime/metrics.js";
import type { ErrorCode } from "../errors.js";
import { aclFor, type Acl } from "./acl.js";
import { clientIdRefusal, identify, principalOf, registryRefusal, takeoverRefusal, who, type Identity, type NameRegistry, type PeerCertificate, type Refusal } from "./identity.js";
import { PublishLimiter, type PublishVerdict } from "./limits.js";
import { brokerOf, clientHolding, markDropped, markGranted } from "./internals.js";
import type { LogThrottle } from "./log-throttle.js";
import type { Presence } from "./presence.js";
import type { SessionOwners } from "./session-owners.js";
import type { Sessions } from "./sessions.js";

/** What every connection of one broker shares (one object per broker, referenced by each Connection). */
export interface ConnectionContext {
  readonly store: Store;
  /** The registry standing of a certificate serial (standing-cache.ts in front of SQLite). */
  readonly standing: (serial: string) => Promise<CertStanding | undefined>;
  readonly clock: () => number;
  readonly log: Logger;
  readonly throttle: LogThrottle;
  readonly metrics: Metrics;
  readonly limits: Limits;
  readonly sessions: Sessions;
  readonly presence: Presence;
  readonly closing: () => boolean;
  /** Who holds a name: device ids and credential names share one name space. */
  readonly names: NameRegistry;
  readonly sessionOwners: SessionOwners;
}

const OWNER = Symbol("fleetgate.connection");
type Tagged = { [OWNER]?: Connection };

/** What a CONNECT may be told: accepted, or refused with a code for CONNACK and the log. */
export type Admission = { ok: true } | Refusal;
/** What a PUBLISH gets: routed, acknowledged but dropped, held for `ms` then routed, or refused (connection closed). */
export type PublishOutcome = "ok" | "dropped" | { hold: number } | { refuse: ErrorCode };

/**
 * The one owner of an MQTT connection: created when TLS is accepted
 * (server.ts secureConnection), disposed when its socket closes. It holds every
 * piece of per-connection state (identity, ACL, publish limiter, subscriptions,
 * delivery backlog, revocation, presence and the connection gauge) and its
 * methods are the only writers of it. The aedes hooks (hooks.ts) look the
 * Connection up and call it; it calls the pure policies (identity.ts, acl.ts,
 * limits.ts). A class with fields only (no closures per connection), found from
 * the aedes client or the socket through a symbol-keyed property.
 */
export class Connection {
  client: Client | undefined = undefined;
  identity: Identity | undefined = undefined;
  acl: Acl | undefined = undefined;
  /** The will topic from CONNECT (preConnect), checked with the publish rules at admission. */
  willTopic: string | undefined = undefined;
  /** The CONNECT packet until admission decides (it may force a clean session, session-owners.ts). */
  connect: { clean?: boolean } | undefined = undefined;
  /** Created on the first PUBLISH. */
  limiter: PublishLimiter | undefined = undefined;
  /** Granted subscription filters, for the per-client limit (few: an array beats a Set here). */
  subscriptions: string[] | undefined = undefined;
  /** Deliveries queued while the socket was above its high-water mark; reset on 'drain'. */
  backlog = 0;
  /** Set when a revocation kicks this session: nothing more is delivered or accepted. */
  revoked = false;
  /** Indexed as a live authenticated session (and counted in the connection gauge). */
  registered = false;
  /** Was granted a `$SYS` filter (counted in Sessions.sysWatchers until it closes). */
  watchesSys = false;
  private disposed = false;

  constructor(
    private readonly ctx: ConnectionContext,
    readonly socket: TLSSocket,
    /** performance.now() when the TLS handshake completed (connect latency starts here). */
    readonly tlsAt: number,
    readonly cert: PeerCertificate | undefined,
  ) {
    (socket as Tagged)[OWNER] = this;
  }

  static of(client: Client | null | undefined): Connection | undefined {
    return client ? (client as unknown as Tagged)[OWNER] : undefined;
  }

  static ofSocket(socket: TLSSocket): Connection | undefined {
    return (socket as Tagged)[OWNER];
  }

  attach(client: Client): void {
    (client as unknown as Tagged)[OWNER] = this;
    this.client = client;
  }

  /** CONNECT seen (preConnect): keeps what admission needs. */
  connecting(packet: { clean?: boolean; will?: { topic: string } | undefined }): void {
    this.willTopic = packet.will?.topic;
    this.connect = packet;
  }

  /**
   * Decides a CONNECT from the certificate, the registry and the clientId's owner; on success the session
   * is live. Asynchronous: the registry may be networked (README "Registry interface").
   */
  async admit(client: Client): Promise<Admission> {
    const { ctx } = this;
    if (ctx.closing()) return { ok: false, code: "FG_MQTT_SHUTTING_DOWN", reason: "gateway is shutting down" };
    const r = identify(this.cert, ctx.clock());
    if (!r.ok) return r;
    const id = r.identity;
    // A clientId belongs to one principal; a live session is never taken over by another ([MQTT-3.1.4-2]).
    const bound = await clientIdRefusal(id, client.id, ctx.names);
    if (bound) return bound;
    const taken = this.takeover(client, id);
    if (taken) return taken;
    // Checked on every CONNECT, resumed TLS sessions included (a ticket outlives a revocation).
    const reg = registryRefusal(id, await ctx.standing(id.serial));
    if (reg) return reg;
    // Again after the registry read: the live session under this clientId may have changed meanwhile.
    const takenSince = this.takeover(client, id);
    if (takenSince) return takenSince;
    if (ctx.closing()) return { ok: false, code: "FG_MQTT_SHUTTING_DOWN", reason: "gateway is shutting down" };
    // Gone while the registry answered: it must not be registered as live.
    if (client.closed || this.disposed) return { ok: false, code: "FG_MQTT_PROTOCOL", reason: "connection closed during admission" };
    const acl = aclFor(id);
    const will = this.willTopic === undefined ? undefined : acl.publish(this.willTopic);
    if (will && !will.allow) {
      ctx.metrics.aclDenials.inc({ action: "will", reason: will.reason });
      return { ok: false, code: "FG_MQTT_WILL_DENIED", reason: `will topic ${JSON.stringify(this.willTopic)} is not allowed` };
    }
    // Session state another principal left under this clientId is not inherited [MQTT-3.1.2-6].
    const packet = this.connect;
    this.connect = undefined;
    if (packet && ctx.sessionOwners.claim(client.id, principalOf(id), client.id === id.name, packet.clean !== false)) {
      packet.clean = true;
      client.clean = true;
      ctx.log.info({ code: "FG_MQTT_CLIENTID_TAKEN", clientId: client.id, serial: id.serial, deviceId: id.role === "device" ? id.name : undefined }, "session state of another principal under this clientId discarded");
    }
    this.identity = id;
    this.acl = acl;
    ctx.sessions.register(client, this);
    if (id.role === "device") ctx.presence.online(id.name, id.serial);
    ctx.metrics.connections.inc();
    return { ok: true };
  }

  /** A refusal if another principal holds a live session under this clientId. */
  private takeover(client: Client, id: Identity): Refusal | undefined {
    const holder = clientHolding(brokerOf(client), client.id);
    return holder && holder !== client ? takeoverRefusal(id, Connection.of(holder)?.identity, client.id) : undefined;
  }

  /** The socket closed: leaves the index, the gauge and presence, exactly once. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.client) return;
    const id = this.identity;
    const wasLive = this.registered;
    const lastOfDevice = this.ctx.sessions.unregister(this.client, this);
    if (wasLive) this.ctx.metrics.connections.dec();
    if (lastOfDevice && id) this.ctx.presence.offline(id.name);
  }

  /** The socket drained: deliveries flow again. */
  drained(): void {
    this.backlog = 0;
  }

  /** Marks the session revoked; false when it already was (or is not live). */
  revoke(): boolean {
    if (this.revoked) return false;
    this.revoked = true;
    return true;
  }

  /** Activity (PINGREQ, PUBLISH): the device's last-seen time moves at the next presence flush. */
  touch(): void {
    if (this.identity?.role === "device") this.ctx.presence.touch(this.identity.name);
  }

  /** Acknowledge-and-drop: the client gets its normal ack, nothing is routed or retained. */
  drop(packet: object, reason: string, code: ErrorCode, topic: string): void {
    markDropped(packet);
    this.ctx.metrics.messagesDropped.inc({ reason });
    const id = this.identity;
    this.ctx.throttle.info(`drop:${reason}:${id?.serial}`, { code, reason, topic, clientId: this.client?.id, ...who(id) }, "publish dropped");
  }

  /** A PUBLISH from this client (or its will, while it closes): ACL, then the publish rate. */
  publish(packet: PublishPacket): PublishOutcome {
    const { ctx } = this;
    const client = this.client!;
    if (!this.acl || this.revoked) {
      // A publish still arriving on a revoked connection is refused before its
      // PUBACK (the connection is closing anyway), never acknowledged and dropped.
      if (!client.closed) return { refuse: this.identity?.role === "device" ? "FG_DEVICE_REVOKED" : "FG_CERT_REVOKED" };
      this.drop(packet, "revoked", "FG_DEVICE_REVOKED", packet.topic);
      return "dropped";
    }
    const d = this.acl.publish(packet.topic);
    if (!d.allow) {
      ctx.metrics.aclDenials.inc({ action: "publish", reason: d.reason });
      this.drop(packet, "acl", "FG_ACL_PUBLISH_DENIED", packet.topic);
      return "dropped";
    }
    // A will is published while the client closes; it was checked at CONNECT and is not rate limited.
    if (client.closed) return "ok";
    const now = ctx.clock();
    const id = this.identity!;
    const v: PublishVerdict = (this.limiter ??= new PublishLimiter(ctx.limits.publishRate, ctx.limits.publishBurst, ctx.limits.publishAbuseSeconds * 1000, now)).check(now, packet.qos > 0);
    if (v === "abuse") {
      ctx.metrics.messagesDropped.inc({ reason: "rate_limit" });
      ctx.log.warn({ code: "FG_MQTT_PUBLISH_RATE", clientId: client.id, ...who(id) }, "publish rate exceeded persistently; disconnecting");
      // Refused before its PUBACK: the client knows this message was not taken.
      return { refuse: "FG_MQTT_PUBLISH_RATE" };
    }
    if (v === "drop") {
      // QoS 0 is at most once: over the rate it is dropped (and counted).
      this.drop(packet, "rate_limit", "FG_MQTT_PUBLISH_RATE", packet.topic);
      return "dropped";
    }
    this.touch();
    if (v === "ok") return "ok";
    // QoS 1/2 over the rate: held, with its PUBACK, until the bucket refills.
    ctx.metrics.publishThrottled.inc();
    ctx.throttle.info(`throttle:${id.serial}`, { code: "FG_MQTT_PUBLISH_RATE", topic: packet.topic, waitMs: v, clientId: client.id, ...who(id) }, "publish rate exceeded; holding the client's publishes");
    return { hold: v };
  }

  /** A SUBSCRIBE filter: granted (and marked for the session store) or refused with its code. */
  subscribe(sub: Subscription): ErrorCode | undefined {
    const { ctx } = this;
    const d = this.acl!.subscribe(sub.topic);
    const id = this.identity!;
    const subs = (this.subscriptions ??= []);
    let code: ErrorCode | undefined;
    if (!d.allow) {
      code = "FG_ACL_SUBSCRIBE_DENIED";
      ctx.metrics.aclDenials.inc({ action: "subscribe", reason: d.reason });
      ctx.throttle.info(`sub:${id.serial}`, { code, reason: d.reason, filter: sub.topic, clientId: this.client!.id, ...who(id) }, "subscription denied");
    } else if (!subs.includes(sub.topic) && subs.length >= ctx.limits.maxSubscriptions) {
      // Counts what this session holds: granted filters, those restored from a persistent session included.
      code = "FG_MQTT_TOO_MANY_SUBSCRIPTIONS";
      ctx.metrics.aclDenials.inc({ action: "subscribe", reason: "too_many_subscriptions" });
      ctx.throttle.info(`sub:${id.serial}`, { code, filter: sub.topic, max: ctx.limits.maxSubscriptions, clientId: this.client!.id, ...who(id) }, "subscription denied");
    }
    if (code) return code;
    if (!subs.includes(sub.topic)) subs.push(sub.topic);
    if (sub.topic.startsWith("$SYS")) ctx.sessions.watchSys(this);
    markGranted(sub);
    return undefined;
  }

  unsubscribed(topics: string[]): void {
    if (this.subscriptions) this.subscriptions = this.subscriptions.filter((t) => !topics.includes(t));
  }

  /** A message about to be delivered to this client: its ACL, then its socket's backlog. */
  forward(packet: AedesPublishPacket): AedesPublishPacket | null {
    // Defense in depth: subscriptions were checked, but a message reaches a client
    // only if its identity may see the topic (retained messages included).
    if (!this.acl || this.revoked || !this.acl.receive(packet.topic)) {
      if (this.acl && !this.revoked) this.ctx.metrics.aclDenials.inc({ action: "forward", reason: "not_visible" });
      return null;
    }
    // A consumer whose socket is over its high-water mark holds a router slot per
    // message until 'drain'; past maxInflight such messages, drop instead of
    // letting one slow client stall delivery for everyone.
    if (this.socket.writableNeedDrain && ++this.backlog > this.ctx.limits.maxInflight) {
      this.ctx.metrics.messagesDropped.inc({ reason: "slow_consumer" });
      this.ctx.throttle.info(`slow:${this.identity!.serial}`, { code: "FG_MQTT_SLOW_CONSUMER", clientId: this.client!.id, ...who(this.identity) }, "consumer too slow; dropping messages to it");
      return null;
    }
    this.ctx.metrics.messagesOut.inc();
    return packet;
  }
}
