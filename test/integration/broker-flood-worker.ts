/**
 * A load generator run as a separate process by broker-flood.test.ts, so the
 * broker under test keeps its own event loop. Reads one JSON job from stdin,
 * connects every client, prints {"connected":n}, publishes flat out (as fast as
 * each TLS socket accepts) for `seconds` or until SIGTERM, then prints
 * {"sent","acked","errors","disconnected"} and exits. With `window` (QoS 1 only),
 * each client keeps at most that many unacknowledged publishes in flight, like
 * a device with a bounded inflight queue; `acked` counts PUBACKs received.
 * With `rate` as well, each client publishes at that pace instead of flat out.
 */
import mqtt, { type MqttClient } from "mqtt";

interface Job {
  url: string;
  ca: string;
  clients: { id: string; cert: string; key: string }[];
  seconds: number;
  qos: 0 | 1;
  payloadBytes: number;
  window?: number;
  /** With `window`: publishes per second per client (paced every 10 ms) instead of flat out. */
  rate?: number;
}

let input = "";
for await (const chunk of process.stdin) input += String(chunk);
const job = JSON.parse(input) as Job;
const payload = Buffer.alloc(job.payloadBytes, 0x61);
let sent = 0;
let acked = 0;
let errors = 0;
let stop = false;

/** QoS 1 with a bounded window: publish again as each PUBACK returns. */
function windowed(client: MqttClient, id: string, window: number): Promise<void> {
  const topic = `devices/${id}/telemetry`;
  return new Promise((resolve) => {
    let inflight = 0;
    // Paced: a budget refilled every 10 ms; flat out: unlimited.
    let budget = job.rate ? 0 : Infinity;
    if (job.rate) {
      const perTick = job.rate / 100;
      const timer = setInterval(() => {
        if (stop || !client.connected) {
          clearInterval(timer);
          if (inflight === 0) resolve();
          return;
        }
        budget = Math.min(budget + perTick, window + perTick);
        pump();
      }, 10);
    }
    const pump = () => {
      while (!stop && client.connected && inflight < window && budget >= 1) {
        budget--;
        inflight++;
        sent++;
        client.publish(topic, payload, { qos: 1 }, (err) => {
          inflight--;
          if (err) errors++;
          else acked++;
          if (stop || !client.connected) {
            if (inflight === 0) resolve();
          } else pump();
        });
      }
    };
    client.once("close", () => resolve());
    pump();
  });
}

async function flood(client: MqttClient, id: string): Promise<void> {
  if (job.window && job.qos === 1) return windowed(client, id, job.window);
  const topic = `devices/${id}/telemetry`;
  const stream = (client as unknown as { stream: NodeJS.WritableStream & { writableNeedDrain: boolean } }).stream;
  while (!stop && client.connected) {
    for (let i = 0; i < 50 && !stream.writableNeedDrain; i++) {
      client.publish(topic, payload, { qos: job.qos });
      sent++;
    }
    if (stream.writableNeedDrain) {
      await new Promise<void>((r) => {
        const go = () => {
          stream.off("drain", go);
          client.off("close", go);
          r();
        };
        stream.once("drain", go);
        client.once("close", go);
      });
    }
    else await new Promise<void>((r) => setImmediate(r));
  }
}

const clients = await Promise.all(job.clients.map((c) =>
  mqtt.connectAsync(job.url, { ca: job.ca, cert: c.cert, key: c.key, clientId: c.id, reconnectPeriod: 0, keepalive: 60 })));
for (const c of clients) c.on("error", () => void errors++);
process.stdout.write(JSON.stringify({ connected: clients.length }) + "\n");
const running = clients.map((c, i) => flood(c, job.clients[i]!.id).catch(() => void errors++));
const finish = () => {
  stop = true;
  void Promise.allSettled(running).then(() => {
    const disconnected = clients.filter((c) => !c.connected).length;
    for (const c of clients) c.end(true);
    process.stdout.write(JSON.stringify({ sent, acked, errors, disconnected }) + "\n");
    process.exit(0);
  });
};
setTimeout(finish, job.seconds * 1000);
process.once("SIGTERM", finish);
