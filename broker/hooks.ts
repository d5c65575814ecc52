import type { AedesOptions, AedesPublishPacket, Client, ConnectPacket, PublishPacket, Subscription } from "aedes";
import type { Store } from "../db/store.js";
import type { CertStanding } from "../db/types.js";
import type { Limits } from "../config.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../runtime/metrics.js";
import { GatewayError, type ErrorCode } from "../errors.js";
import { aclFor, type Acl } from "./acl.js";
import { clientIdRefusal, identify, principalOf, registryRefusal, takeoverRefusal, who, type Identity, type NameRegistry, type Refusal } from "./identity.js";
import type { SessionOwners } from "./session-owners.js";
import { PublishLimiter } from "./limits.js";
import type { LogThrottle } from "./log-throttle.js";
import type { Presence } from "./presence.js";
import type { Sessions, ClientState } from "./sessions.js";

export interface HookContext {
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
  /** Publishes to acknowledge but not route (see overload.ts gatePublish). */
  readonly drops: WeakSet<object>;
  /** Subscriptions authorizeSubscribe granted: the only ones a persistent session stores (subscription-store.ts). */
  readonly granted: WeakSet<object>;
  readonly closing: () => boolean;
  /** Who holds a name: device ids and credential names share one name space. */
  readonly names: NameRegistry;
  readonly sessionOwners: SessionOwners;
}

type Hooks = Required<Pick<AedesOptions, "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward">>;

/** aedes puts `returnCode` (2..5) into CONNACK; the code and reason go to the log. */
function connectError(code: ErrorCode, reason: string) {
  const err = new GatewayError(code, reason) as GatewayError & { returnCode: number };
  err.returnCode = err.connack ?? 5;
  return err;
}

/**
 * Thin adapters from aedes' hook signatures to the pure policies (identity.ts,
 * acl.ts, limits.ts). They translate, count and log; they decide nothing.
 */
export function createHooks(ctx: HookContext): Hooks {
  const { sessions, metrics, limits, throttle } = ctx;
  // The child for the common case, resolved once: inc({ result }) hashes its labels on every call.
  const accepted = metrics.connects.labels({ result: "accepted" });

  function refuse(client: Client, st: ClientState | undefined, r: Refusal, callback: (e: never, ok: null) => void): void {
    metrics.connects.inc({ result: r.code });
    const f = st?.cert?.facts;
    const id = f?.role === undefined ? undefined : { role: f.role, name: f.commonName, serial: f.serial };
    throttle.info(`connect:${r.code}`, {
      code: r.code, reason: r.reason, clientId: client.id, serial: f?.serial, ...who(id),
    }, "MQTT connection refused");
    callback(connectError(r.code, r.reason) as never, null);
  }

  /** Acknowledge-and-drop: the client gets its normal ack, nothing is routed or retained. */
  function drop(packet: object, st: ClientState, reason: string, code: ErrorCode, topic: string): void {
    ctx.drops.add(packet);
    metrics.messagesDropped.inc({ reason });
    const id = st.identity;
    throttle.info(`drop:${reason}:${id?.serial}`, { code, reason, topic, clientId: st.client?.id, ...who(id) }, "publish dropped");
  }

  function forgetStored(client: Client, filter: string): void {
    const { persistence } = (client as unknown as { broker: { persistence: { removeSubscriptions(c: { id: string }, topics: string[]): Promise<void> } } }).broker;
    persistence.removeSubscriptions(client, [filter]).catch((err: unknown) =>
      ctx.log.error({ err, code: "FG_INTERNAL", clientId: client.id }, "cannot remove a refused subscription from the session store"));
  }

  /** Runs the publish's remaining steps (PUBACK, routing) once a held publish is released. */
  function release(client: Client, callback: (err: Error | null) => void): void {
    // Closed meanwhile (revoked, kicked, hung up): it was never acknowledged, so nothing is lost.
    if (client.closed) return;
    const st = sessions.get(client);
    if (st?.revoked) return;
    metrics.messagesIn.inc();
    callback(null);
  }

  const takeover = (client: Client, id: Identity): Refusal | undefined => {
    const holder = (client as unknown as { broker: { clients: Record<string, Client | undefined> } }).broker.clients[client.id];
    return holder && holder !== client ? takeoverRefusal(id, sessions.get(holder)?.identity, client.id) : undefined;
  };

  /** The CONNECT checks, in order: the clientId binding, a live session's owner, the registry standing, the will topic. */
  async function connectChecks(client: Client, st: ClientState, id: Identity): Promise<Refusal | { ok: true; acl: Acl }> {
    // A clientId belongs to one principal; a live session is never taken over by another ([MQTT-3.1.4-2]).
    const bound = await clientIdRefusal(id, client.id, ctx.names);
    if (bound) return bound;
    const taken = takeover(client, id);
    if (taken) return taken;
    // Checked on every CONNECT, resumed TLS sessions included (a ticket outlives a revocation).
    const reg = registryRefusal(id, await ctx.standing(id.serial));
    if (reg) return reg;
    // Again after the registry read: the live session under this clientId may have changed meanwhile.
    const takenSince = takeover(client, id);
    if (takenSince) return takenSince;
    if (ctx.closing()) return { ok: false, code: "FG_MQTT_SHUTTING_DOWN", reason: "gateway is shutting down" };
    const acl = aclFor(id);
    const will = st.willTopic === undefined ? undefined : acl.publish(st.willTopic);
    if (will && !will.allow) {
      metrics.aclDenials.inc({ action: "will", reason: will.reason });
      return { ok: false, code: "FG_MQTT_WILL_DENIED", reason: `will topic ${JSON.stringify(st.willTopic)} is not allowed` };
    }
    return { ok: true, acl };
  }

  /** Registers an admitted connection. */
  function admit(client: Client, st: ClientState, id: Identity, acl: Acl): void {
    // Session state another principal left under this clientId is not inherited [MQTT-3.1.2-6].
    const packet = st.connect;
    st.connect = undefined;
    if (packet && ctx.sessionOwners.claim(client.id, principalOf(id), client.id === id.name, packet.clean !== false)) {
      packet.clean = true;
      client.clean = true;
      ctx.log.info({ code: "FG_MQTT_CLIENTID_TAKEN", clientId: client.id, serial: id.serial, deviceId: id.role === "device" ? id.name : undefined }, "session state of another principal under this clientId discarded");
    }
    st.identity = id;
    st.acl = acl;
    sessions.register(client, st);
    if (id.role === "device") ctx.presence.online(id.name, id.serial);
    accepted.inc();
    metrics.connections.inc();
    ctx.log.debug({ serial: id.serial, role: id.role, deviceId: id.role === "device" ? id.name : undefined, clientId: client.id }, "MQTT client authenticated");
  }

  return {
    preConnect(client: Client, packet: ConnectPacket, callback) {
      const st = sessions.get(client);
      if (!st) return callback(new Error("connection without TLS state"), false);
      st.willTopic = packet.will?.topic;
      st.connect = packet;
      callback(null, true);
    },

    authenticate(client: Client, _username, _password, callback) {
      // Username and password are ignored: the certificate alone says who this is.
      const st = sessions.get(client);
      if (ctx.closing()) return refuse(client, st, { ok: false, code: "FG_MQTT_SHUTTING_DOWN", reason: "gateway is shutting down" }, callback);
      const r = identify(st?.cert, ctx.clock());
      if (!r.ok || !st) return refuse(client, st, r.ok ? { ok: false, code: "FG_MQTT_NO_CERT", reason: "no TLS state" } : r, callback);
      const id = r.identity;
      // The registry answers asynchronously (README "Registry interface"); a failed read refuses the CONNECT.
      connectChecks(client, st, id).then((c) => {
        if (!c.ok) return refuse(client, st, c, callback);
        // Gone while the registry answered: aedes drops it; it must not be registered as live.
        if (client.closed) return callback(null, false);
        admit(client, st, id, c.acl);
        callback(null, true);
      }, (err: unknown) => {
        ctx.log.error({ err, code: "FG_INTERNAL", clientId: client.id, serial: id.serial }, "registry read failed on CONNECT");
        refuse(client, st, { ok: false, code: "FG_INTERNAL", reason: "registry unavailable" }, callback);
      }).catch((err: unknown) => ctx.log.error({ err, code: "FG_INTERNAL", clientId: client.id, serial: id.serial }, "CONNECT admission failed"));
    },

    authorizePublish(client: Client | null, packet: PublishPacket, callback) {
      const st = sessions.get(client);
      if (!st?.acl || st.revoked) {
        // No client (an orphaned will) or a revoked session: nothing it says is routed.
        // A publish still arriving on a revoked connection is refused before its
        // PUBACK (the connection is closing anyway), never acknowledged and dropped.
        if (st && client && !client.closed) return callback(new GatewayError(st.identity?.role === "device" ? "FG_DEVICE_REVOKED" : "FG_CERT_REVOKED"));
        if (st) drop(packet, st, "revoked", "FG_DEVICE_REVOKED", packet.topic);
        else ctx.drops.add(packet);
        return callback(null);
      }
      const d = st.acl.publish(packet.topic);
      if (!d.allow) {
        metrics.aclDenials.inc({ action: "publish", reason: d.reason });
        drop(packet, st, "acl", "FG_ACL_PUBLISH_DENIED", packet.topic);
        return callback(null);
      }
      // A will is published while the client closes; it was checked at CONNECT and is not rate limited.
      if (!client!.closed) {
        const now = ctx.clock();
        const id = st.identity!;
        const v = (st.limiter ??= new PublishLimiter(limits.publishRate, limits.publishBurst, limits.publishAbuseSeconds * 1000, now)).check(now, packet.qos > 0);
        if (v === "abuse") {
          metrics.messagesDropped.inc({ reason: "rate_limit" });
          ctx.log.warn({ code: "FG_MQTT_PUBLISH_RATE", clientId: client!.id, ...who(id) }, "publish rate exceeded persistently; disconnecting");
          // Refused before its PUBACK: the client knows this message was not taken.
          return callback(new GatewayError("FG_MQTT_PUBLISH_RATE"));
        }
        if (v === "drop") {
          // QoS 0 is at most once: over the rate it is dropped (and counted).
          drop(packet, st, "rate_limit", "FG_MQTT_PUBLISH_RATE", packet.topic);
          return callback(null);
        }
        if (id.role === "device") ctx.presence.touch(id.name);
        if (v !== "ok") {
          // QoS 1/2 over the rate: held, with its PUBACK, until the bucket refills.
          // aedes reads no more from this socket meanwhile, so TCP slows the client down.
          metrics.publishThrottled.inc();
          throttle.info(`throttle:${id.serial}`, { code: "FG_MQTT_PUBLISH_RATE", topic: packet.topic, waitMs: v, clientId: client!.id, ...who(id) }, "publish rate exceeded; holding the client's publishes");
          setTimeout(release, v, client!, callback).unref(); // the socket keeps the process alive, not a held publish
          return;
        }
      }
      metrics.messagesIn.inc();
      callback(null);
    },

    authorizeSubscribe(client: Client, sub: Subscription, callback) {
      const st = sessions.get(client);
      if (!st?.acl || st.revoked) return callback(null, null);
      const d = st.acl.subscribe(sub.topic);
      const id = st.identity!;
      const subs = (st.subscriptions ??= []);
      let code: ErrorCode | undefined;
      if (!d.allow) {
        code = "FG_ACL_SUBSCRIBE_DENIED";
        metrics.aclDenials.inc({ action: "subscribe", reason: d.reason });
        throttle.info(`sub:${id.serial}`, { code, reason: d.reason, filter: sub.topic, clientId: client.id, ...who(id) }, "subscription denied");
      } else if (!subs.includes(sub.topic) && subs.length >= limits.maxSubscriptions) {
        // Counts what this session holds: granted filters, those restored from a persistent session included.
        code = "FG_MQTT_TOO_MANY_SUBSCRIPTIONS";
        metrics.aclDenials.inc({ action: "subscribe", reason: "too_many_subscriptions" });
        throttle.info(`sub:${id.serial}`, { code, filter: sub.topic, max: limits.maxSubscriptions, clientId: client.id, ...who(id) }, "subscription denied");
      }
      if (code) {
        // A refused filter is never stored (subscription-store.ts); one a persistent
        // session restores but may no longer hold (over the cap, stored before that
        // rule) is removed from the store, so no offline message is queued for it.
        if (!client.clean) forgetStored(client, sub.topic);
        return callback(null, null); // SUBACK 0x80 [MQTT-3.9.3]
      }
      if (!subs.includes(sub.topic)) subs.push(sub.topic);
      if (sub.topic.startsWith("$SYS")) sessions.watchSys(st);
      ctx.granted.add(sub);
      callback(null, sub);
    },

    authorizeForward(client: Client, packet: AedesPublishPacket) {
      const st = sessions.get(client);
      // Defense in depth: subscriptions were checked, but a message reaches a client
      // only if its identity may see the topic (retained messages included).
      if (!st?.acl || st.revoked || !st.acl.receive(packet.topic)) {
        if (st?.acl && !st.revoked) metrics.aclDenials.inc({ action: "forward", reason: "not_visible" });
        return null;
      }
      // A consumer whose socket is over its high-water mark holds a router slot per
      // message until 'drain'; past maxInflight such messages, drop instead of
      // letting one slow client stall delivery for everyone.
      if (st.socket.writableNeedDrain && ++st.backlog > limits.maxInflight) {
        metrics.messagesDropped.inc({ reason: "slow_consumer" });
        throttle.info(`slow:${st.identity!.serial}`, { code: "FG_MQTT_SLOW_CONSUMER", clientId: client.id, ...who(st.identity) }, "consumer too slow; dropping messages to it");
        return null;
      }
      metrics.messagesOut.inc();
      return packet;
    },
  };
}
