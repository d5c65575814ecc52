import type { AedesOptions, AedesPublishPacket, Client, ConnectPacket, PublishPacket, Subscription } from "aedes";
import type { Logger } from "../log.js";
import type { Metrics } from "../runtime/metrics.js";
import { GatewayError, type ErrorCode } from "../errors.js";
import { who, type Refusal } from "./identity.js";
import { brokerOf, markDropped, persistenceOf } from "./internals.js";
import { Connection } from "./connection.js";
import type { LogThrottle } from "./log-throttle.js";

export interface HookContext {
  readonly log: Logger;
  readonly throttle: LogThrottle;
  readonly metrics: Metrics;
}

type Hooks = Required<Pick<AedesOptions, "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward">>;

/** aedes puts `returnCode` (2..5) into CONNACK; the code and reason go to the log. */
function connectError(code: ErrorCode, reason: string) {
  const err = new GatewayError(code, reason) as GatewayError & { returnCode: number };
  err.returnCode = err.connack ?? 5;
  return err;
}

/**
 * Thin adapters from aedes' hook signatures to the connection's owner
 * (connection.ts), which holds the state and calls the pure policies. They look
 * the Connection up, translate its answer into aedes' callback, and log
 * refusals; they decide nothing.
 */
export function createHooks(ctx: HookContext): Hooks {
  const { metrics, throttle } = ctx;
  // The child for the common case, resolved once: inc({ result }) hashes its labels on every call.
  const accepted = metrics.connects.labels({ result: "accepted" });

  function refuse(client: Client, conn: Connection | undefined, r: Refusal, callback: (e: never, ok: null) => void): void {
    metrics.connects.inc({ result: r.code });
    const f = conn?.cert?.facts;
    const id = f?.role === undefined ? undefined : { role: f.role, name: f.commonName, serial: f.serial };
    throttle.info(`connect:${r.code}`, {
      code: r.code, reason: r.reason, clientId: client.id, serial: f?.serial, ...who(id),
    }, "MQTT connection refused");
    callback(connectError(r.code, r.reason) as never, null);
  }

  function forgetStored(client: Client, filter: string): void {
    persistenceOf<{ removeSubscriptions(c: { id: string }, topics: string[]): Promise<void> }>(brokerOf(client)).removeSubscriptions(client, [filter]).catch((err: unknown) =>
      ctx.log.error({ err, code: "FG_INTERNAL", clientId: client.id }, "cannot remove a refused subscription from the session store"));
  }

  /** Runs the publish's remaining steps (PUBACK, routing) once a held publish is released. */
  function release(client: Client, callback: (err: Error | null) => void): void {
    // Closed meanwhile (revoked, kicked, hung up): it was never acknowledged, so nothing is lost.
    if (client.closed || Connection.of(client)?.revoked) return;
    metrics.messagesIn.inc();
    callback(null);
  }

  return {
    preConnect(client: Client, packet: ConnectPacket, callback) {
      const conn = Connection.of(client);
      if (!conn) return callback(new Error("connection without TLS state"), false);
      conn.connecting(packet);
      callback(null, true);
    },

    authenticate(client: Client, _username, _password, callback) {
      // Username and password are ignored: the certificate alone says who this is.
      const conn = Connection.of(client);
      if (!conn) return refuse(client, conn, { ok: false, code: "FG_MQTT_NO_CERT", reason: "no TLS state" }, callback);
      // The registry answers asynchronously (README "Registry interface"); a failed read refuses the CONNECT.
      conn.admit(client).then((r) => {
        if (!r.ok) return refuse(client, conn, r, callback);
        accepted.inc();
        const id = conn.identity!;
        ctx.log.debug({ serial: id.serial, role: id.role, deviceId: id.role === "device" ? id.name : undefined, clientId: client.id }, "MQTT client authenticated");
        callback(null, true);
      }, (err: unknown) => {
        ctx.log.error({ err, code: "FG_INTERNAL", clientId: client.id, serial: conn.cert?.facts?.serial }, "registry read failed on CONNECT");
        refuse(client, conn, { ok: false, code: "FG_INTERNAL", reason: "registry unavailable" }, callback);
      }).catch((err: unknown) => ctx.log.error({ err, code: "FG_INTERNAL", clientId: client.id }, "CONNECT admission failed"));
    },

    authorizePublish(client: Client | null, packet: PublishPacket, callback) {
      const conn = Connection.of(client);
      // No client: an orphaned will; nothing it says is routed.
      if (!conn) {
        markDropped(packet);
        return callback(null);
      }
      const out = conn.publish(packet);
      if (out === "ok") {
        metrics.messagesIn.inc();
        return callback(null);
      }
      if (out === "dropped") return callback(null);
      if ("refuse" in out) return callback(new GatewayError(out.refuse));
      // Held with its PUBACK: aedes reads no more from this socket meanwhile, so TCP slows the client down.
      setTimeout(release, out.hold, client!, callback).unref(); // the socket keeps the process alive, not a held publish
    },

    authorizeSubscribe(client: Client, sub: Subscription, callback) {
      const conn = Connection.of(client);
      if (!conn?.acl || conn.revoked) return callback(null, null);
      if (conn.subscribe(sub)) {
        // A refused filter is never stored (internals.ts storeOnlyGranted); one a persistent
        // session restores but may no longer hold (over the cap, stored before that
        // rule) is removed from the store, so no offline message is queued for it.
        if (!client.clean) forgetStored(client, sub.topic);
        return callback(null, null); // SUBACK 0x80 [MQTT-3.9.3]
      }
      callback(null, sub);
    },

    authorizeForward(client: Client, packet: AedesPublishPacket) {
      return Connection.of(client)?.forward(packet) ?? null;
    },
  };
}
