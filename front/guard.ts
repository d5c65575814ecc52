import type { Socket } from "node:net";
import type { Server, TLSSocket } from "node:tls";
import type { Logger } from "../log.js";
import type { Metrics } from "../runtime/metrics.js";
import type { ErrorCode } from "../errors.js";
import { LogThrottle } from "../broker/log-throttle.js";
import { rawSocketOf } from "../broker/internals.js";
import { Admission, sourceKey, type AdmissionLimits, type AdmissionRefusal } from "./admission.js";

export type ListenerName = "https" | "mqtts";

export interface GuardOptions {
  readonly listener: ListenerName;
  readonly limits: AdmissionLimits;
  /** Time to finish TLS from TCP accept; then as long again to be settled. */
  readonly timeoutMs: number;
  /**
   * What settles a connection after TLS, which the listener reports with settle():
   * "connect" on MQTT (CONNACK 0), "request" on HTTPS (a first request's headers:
   * a client certificate is optional there, so a finished handshake proves nothing).
   */
  readonly settledBy: "connect" | "request";
  readonly clock: () => number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** While true, every new connection is closed (the listener is shutting down). */
  readonly closing?: () => boolean;
  /** Called for every refused connection, e.g. to count it in a listener's own metric. */
  readonly onRefused?: (reason: AdmissionRefusal | "closing") => void;
}

type Stage = "tls" | "connect" | "request";

/** One pending connection: its source, its deadline and the sockets to close when that passes. */
interface Ticket {
  readonly source: string;
  readonly raw: Socket;
  tls: TLSSocket | undefined;
  stage: Stage;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

const CODES: Record<AdmissionRefusal | "closing", ErrorCode> = {
  pending_global: "FG_CONNECTION_LIMIT",
  pending_source: "FG_CONNECTION_LIMIT",
  rate_source: "FG_MQTT_CONNECT_RATE",
  rate_global: "FG_MQTT_CONNECT_RATE",
  closing: "FG_MQTT_SHUTTING_DOWN",
};

/**
 * Applies front/admission.ts to a node:tls server (the HTTPS and the MQTTS
 * listener). Before TLS the only answer is a TCP close, which is also the
 * cheapest: a refused connection costs no handshake.
 *  - on accept: admitted or closed at once (pending caps, per-source and global rate);
 *  - a deadline per connection, absolute (not an idle timer, which a client
 *    trickling one byte at a time would keep resetting): TLS must finish within
 *    `timeoutMs`, and the connection must then be settled (MQTT: CONNACK 0;
 *    HTTPS: a request's headers) within `timeoutMs` more. Past it the socket is
 *    destroyed;
 *  - every tlsClientError destroys its socket: node reports a handshake timeout
 *    there but leaves the socket open when the server listens for the event.
 */
export class ConnectionGuard {
  private readonly admission: Admission;
  private readonly tickets = new WeakMap<object, Ticket>();
  private readonly open = new Set<Ticket>();
  private readonly throttle: LogThrottle;
  private readonly pendingGauge: ReturnType<Metrics["pendingConnections"]["labels"]>;
  private readonly refused: Metrics["connectionsRefused"];

  constructor(server: Server, private readonly o: GuardOptions) {
    this.admission = new Admission(o.limits, o.clock());
    this.throttle = new LogThrottle(o.log, o.clock);
    this.pendingGauge = o.metrics.pendingConnections.labels({ listener: o.listener });
    this.pendingGauge.set(0);
    this.refused = o.metrics.connectionsRefused;
    const guard = this;
    // Shared handlers (`this` is the socket): a connection costs a ticket and a timer, no closures.
    function onRawClose(this: Socket): void {
      const t = guard.tickets.get(this);
      if (t) guard.release(t);
    }
    function onDeadline(t: Ticket): void {
      t.timer = undefined;
      if (t.done) return;
      guard.o.metrics.handshakeTimeouts.inc({ listener: guard.o.listener, stage: t.stage });
      guard.throttle.info(`timeout:${t.stage}`, {
        code: "FG_HANDSHAKE_TIMEOUT", listener: guard.o.listener, stage: t.stage, remoteAddress: t.raw.remoteAddress, timeoutMs: guard.o.timeoutMs,
      }, t.stage === "tls" ? "TLS handshake not completed in time; closing" : t.stage === "connect" ? "MQTT CONNECT not accepted in time; closing" : "no request in time after TLS; closing");
      guard.release(t);
      t.tls?.destroy();
      t.raw.destroy();
    }

    // Runs before tls.Server's own listener: a refused connection gets no TLS work.
    server.prependListener("connection", (raw: Socket) => {
      const source = sourceKey(raw.remoteAddress);
      const reason: AdmissionRefusal | "closing" | undefined = o.closing?.() ? "closing" : this.admission.admit(source, o.clock());
      if (reason) {
        this.refused.inc({ listener: o.listener, reason });
        o.onRefused?.(reason);
        this.throttle.warn(`refused:${reason}`, {
          code: CODES[reason], listener: o.listener, reason, remoteAddress: raw.remoteAddress, pending: this.admission.pending,
        }, "connection closed before TLS");
        raw.destroy();
        return;
      }
      const t: Ticket = { source, raw, tls: undefined, stage: "tls", timer: undefined, done: false };
      t.timer = setTimeout(onDeadline, o.timeoutMs, t).unref();
      this.tickets.set(raw, t);
      this.open.add(t);
      this.pendingGauge.inc();
      raw.once("close", onRawClose);
    });

    server.on("secureConnection", (socket: TLSSocket) => {
      const raw = rawSocketOf(socket);
      const t = raw && this.tickets.get(raw);
      if (!t || t.done) return;
      t.tls = socket;
      t.stage = o.settledBy;
      this.tickets.set(socket, t);
      clearTimeout(t.timer);
      t.timer = setTimeout(onDeadline, o.timeoutMs, t).unref();
    });

    server.on("tlsClientError", (_err: Error, socket: TLSSocket) => {
      if (!socket.destroyed) socket.destroy();
    });
  }

  /** Connections currently pending on this listener. */
  get pending(): number {
    return this.admission.pending;
  }

  /** The connection behind `socket` is authenticated: it stops counting as pending and its deadline is lifted. */
  settle(socket: TLSSocket): void {
    const t = this.tickets.get(socket);
    if (t) this.release(t);
  }

  /** Closes every connection still pending (shutdown: they are nobody's clients yet). */
  destroyPending(): void {
    for (const t of [...this.open]) {
      this.release(t);
      t.tls?.destroy();
      t.raw.destroy();
    }
  }

  private release(t: Ticket): void {
    if (t.done) return;
    t.done = true;
    clearTimeout(t.timer);
    t.timer = undefined;
    this.open.delete(t);
    this.admission.release(t.source);
    this.pendingGauge.dec();
  }
}
