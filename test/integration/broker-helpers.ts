/** Shared by the broker-*.test.ts files: MQTT.js and mosquitto client plumbing. No assertions here. */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Credential } from "../../testkit/certs.js";
import type { TestGateway } from "../../testkit/gateway.js";

export function opts(g: TestGateway, c: Pick<Credential, "certPem" | "keyPem">, clientId: string, extra: IClientOptions = {}): IClientOptions {
  return { ca: g.caPem, cert: c.certPem, key: c.keyPem, clientId, reconnectPeriod: 0, connectTimeout: 15_000, protocolVersion: 4, ...extra };
}

/** Connects and resolves once CONNACK 0 arrived; rejects on anything else. */
export function connect(g: TestGateway, c: Pick<Credential, "certPem" | "keyPem">, clientId: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(g.mqttUrl, opts(g, c, clientId, extra));
}

export type Attempt =
  | { kind: "connack"; code: number; client: MqttClient }
  | { kind: "error"; message: string; code: unknown }
  | { kind: "closed" };

/**
 * One connection attempt that never throws: CONNACK code (0 = accepted; the
 * client is returned open), or the error / close that happened instead.
 */
export function attempt(g: TestGateway, c: Pick<Credential, "certPem" | "keyPem">, clientId: string, extra: IClientOptions = {}): Promise<Attempt> {
  return new Promise((resolve) => {
    const client = mqtt.connect(g.mqttUrl, opts(g, c, clientId, extra));
    let done = false;
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      if (a.kind !== "connack" || a.code !== 0) client.end(true);
      resolve(a);
    };
    client.on("connect", (p) => finish({ kind: "connack", code: p.returnCode ?? 0, client }));
    client.on("error", (e: Error & { code?: unknown }) => {
      // MQTT.js reports a refused CONNACK as an error carrying the return code.
      if (typeof e.code === "number") finish({ kind: "connack", code: e.code, client });
      else finish({ kind: "error", message: e.message, code: e.code });
    });
    client.on("close", () => finish({ kind: "closed" }));
  });
}

/** SUBACK return codes, including 0x80 (MQTT.js rejects subscribeAsync when one is refused). */
export function granted(client: MqttClient, filters: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filters, { qos }, (err, grants) => {
      const packet = (err as { packet?: { granted?: number[] } } | null)?.packet;
      if (packet?.granted) return resolve(packet.granted);
      if (err) return reject(err);
      resolve(grants!.map((g) => g.qos));
    });
  });
}

export interface Inbox {
  readonly messages: { topic: string; payload: string; retain: boolean }[];
  /** Resolves with the first message matching; rejects after `ms` (a test timeout, not a timing assertion). */
  waitFor(pred: (m: { topic: string; payload: string }) => boolean, ms?: number): Promise<{ topic: string; payload: string; retain: boolean }>;
}

export function inbox(client: MqttClient): Inbox {
  const messages: Inbox["messages"] = [];
  const waiters: (() => void)[] = [];
  client.on("message", (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    for (const w of waiters.splice(0)) w();
  });
  return {
    messages,
    waitFor(pred, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message within ${ms} ms; got ${JSON.stringify(messages)}`)), ms);
        const check = () => {
          const m = messages.find(pred);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Resolves when the client's connection closes; rejects after `ms`. */
export function closed(client: MqttClient, ms = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (!client.connected && client.disconnected) return resolve(Date.now());
    const timer = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
    client.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now());
    });
  });
}

/** Polls until fn() is truthy; rejects after `ms` (a test timeout, not a timing assertion). */
export async function until<T>(fn: () => T | undefined | false, ms = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Writes a credential as PEM files for the mosquitto clients. */
export function pemFiles(dir: string, name: string, c: Pick<Credential, "certPem" | "keyPem">): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  fs.writeFileSync(cert, c.certPem);
  fs.writeFileSync(key, c.keyPem, { mode: 0o600 });
  return { cert, key };
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion (killed after `ms`), capturing its output. */
export function run(cmd: string, args: string[], ms = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Log lines carrying the given error code. */
export function logged(g: TestGateway, code: string): Record<string, unknown>[] {
  return g.logs.lines().filter((l) => l.code === code);
}
