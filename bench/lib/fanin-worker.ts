/**
 * Fan-in load for bench/vs-mosquitto.ts, run as a child process so the broker
 * and the subscriber keep their own event loops. Job in argv[2]. Uses the
 * simulator's MqttConnector (the same MQTT.js load generator). Connects every
 * device, prints {"connected":n}, publishes flat out for `seconds`, then prints
 * {"sent","acked","errors"} and exits. Each payload starts with the send time
 * (process.hrtime, CLOCK_MONOTONIC, the same clock in every process) as a
 * big-endian u64 of nanoseconds, so the subscriber measures end-to-end latency.
 * QoS 1 keeps at most `window` unacknowledged publishes per device; QoS 0 writes
 * while the TLS socket accepts (backpressure by 'drain').
 */
import type { MqttClient } from "mqtt";
import { MqttConnector, secureContextFor } from "../../device-sim/connector.js";

interface Job { port: number; ca: string; clients: { id: string; cert: string; key: string }[]; seconds: number; qos: 0 | 1; payloadBytes: number; window: number }
const job = JSON.parse(process.argv[2]!) as Job;
let sent = 0;
let acked = 0;
let errors = 0;
let stop = false;

function payload(): Buffer {
  const b = Buffer.alloc(job.payloadBytes, 0x61);
  b.writeBigUInt64BE(process.hrtime.bigint(), 0);
  return b;
}

function windowed(client: MqttClient, topic: string): Promise<void> {
  return new Promise((resolve) => {
    let inflight = 0;
    const pump = () => {
      while (!stop && client.connected && inflight < job.window) {
        inflight++;
        sent++;
        client.publish(topic, payload(), { qos: 1 }, (err) => {
          inflight--;
          if (err) errors++;
          else acked++;
          if (stop || !client.connected) { if (inflight === 0) resolve(); } else pump();
        });
      }
    };
    client.once("close", () => resolve());
    pump();
  });
}

async function flood(client: MqttClient, topic: string): Promise<void> {
  const stream = (client as unknown as { stream: NodeJS.WritableStream & { writableNeedDrain: boolean } }).stream;
  while (!stop && client.connected) {
    for (let i = 0; i < 20 && !stream.writableNeedDrain; i++) {
      client.publish(topic, payload(), { qos: 0 });
      sent++;
    }
    if (stream.writableNeedDrain) await new Promise<void>((r) => { stream.once("drain", r); client.once("close", r); });
    else await new Promise<void>((r) => setImmediate(r));
  }
}

const connector = new MqttConnector({ host: "127.0.0.1", port: job.port }, { keepaliveS: 60, connectTimeoutMs: 30_000 });
const clients = await Promise.all(job.clients.map((c) => new Promise<MqttClient>((resolve, reject) => {
  const cl = connector.create(c.id, secureContextFor(c.key, c.cert, job.ca));
  cl.once("connect", () => resolve(cl));
  cl.once("error", reject);
})));
for (const c of clients) c.on("error", () => void errors++);
process.stdout.write(JSON.stringify({ connected: clients.length }) + "\n");
setTimeout(() => (stop = true), job.seconds * 1000);
await Promise.all(clients.map((c, i) => {
  const topic = `devices/${job.clients[i]!.id}/telemetry`;
  return job.qos === 1 ? windowed(c, topic) : flood(c, topic);
}));
if (job.qos === 0) acked = sent;
await Promise.all(clients.map((c) => c.endAsync()));
process.stdout.write(JSON.stringify({ sent, acked, errors }) + "\n");
process.exit(0);
