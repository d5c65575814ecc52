import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * Every gateway metric, in one registry per gateway (no global default
 * registry, so two gateways can run in one process). All names start with
 * `gateway_`.
 */
export function createMetrics() {
  const registry = new Registry();
  const reg = [registry];
  return {
    registry,
    connections: new Gauge({ name: "gateway_mqtt_connections", help: "Open MQTT client connections", registers: reg }),
    connects: new Counter({ name: "gateway_mqtt_connects_total", help: "MQTT connection attempts by result (accepted or the error code)", labelNames: ["result"], registers: reg }),
    messagesIn: new Counter({ name: "gateway_mqtt_messages_in_total", help: "PUBLISH packets accepted from clients", registers: reg }),
    messagesOut: new Counter({ name: "gateway_mqtt_messages_out_total", help: "PUBLISH packets delivered to clients", registers: reg }),
    messagesDropped: new Counter({ name: "gateway_mqtt_messages_dropped_total", help: "PUBLISH packets dropped, by reason", labelNames: ["reason"], registers: reg }),
    publishThrottled: new Counter({ name: "gateway_mqtt_publish_throttled_total", help: "QoS 1/2 PUBLISH packets held (with their acknowledgement) until the client's rate allowed them", registers: reg }),
    aclDenials: new Counter({ name: "gateway_acl_denials_total", help: "ACL denials by action and reason", labelNames: ["action", "reason"], registers: reg }),
    enrollments: new Counter({ name: "gateway_enrollments_total", help: "EST enrollments by operation and result", labelNames: ["operation", "result"], registers: reg }),
    revocations: new Counter({ name: "gateway_revocations_total", help: "Device revocations performed or observed by this process", registers: reg }),
    tokenFailures: new Counter({ name: "gateway_token_failures_total", help: "Failed bootstrap-token authentications", registers: reg }),
    kicks: new Counter({ name: "gateway_revocation_disconnects_total", help: "Live MQTT sessions closed because of a revocation", registers: reg }),
    enrollLatency: new Histogram({
      name: "gateway_enrollment_duration_seconds", help: "EST request handling time by operation", labelNames: ["operation"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: reg,
    }),
    connectLatency: new Histogram({
      name: "gateway_mqtt_connect_duration_seconds", help: "Time from TLS established to CONNACK",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: reg,
    }),
    connectionsRefused: new Counter({ name: "gateway_connections_refused_total", help: "New TCP connections closed before TLS, by listener and reason (pending_global, pending_source, rate_source, rate_global, closing)", labelNames: ["listener", "reason"], registers: reg }),
    handshakeTimeouts: new Counter({ name: "gateway_handshake_timeouts_total", help: "Connections closed for not finishing TLS (stage tls), then CONNECT (stage connect, MQTT) or a first request (stage request, HTTPS) in time", labelNames: ["listener", "stage"], registers: reg }),
    pendingConnections: new Gauge({ name: "gateway_pending_connections", help: "Connections not yet through the front door (in TLS, then before CONNACK 0 or a first HTTPS request), by listener", labelNames: ["listener"], registers: reg }),
    certificatesExpiring: new Gauge({ name: "gateway_certificates_expiring", help: "Devices whose newest valid certificate expires within the window", labelNames: ["within"], registers: reg }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
