/**
 * The telemetry message a simulated device publishes on devices/<id>/telemetry:
 *   {"id":"<deviceId>","seq":<n>,"ts":<ms epoch, 3 decimals>,"p":"xxxx"}
 * padded with "p" to --payload-bytes (a payload can be longer only when the
 * header alone is longer). `seq` starts at 1 per device and run; `ts` is the
 * publisher's clock, which the service subscriber in the same process reads to
 * measure end-to-end latency.
 */
const PAD = "x".repeat(1 << 16);
const PAD_OVERHEAD = ',"p":""'.length;

export function makePayload(id: string, seq: number, ts: number, bytes: number): string {
  const head = `{"id":"${id}","seq":${seq},"ts":${ts.toFixed(3)}`;
  let pad = bytes - head.length - 1 - PAD_OVERHEAD;
  if (pad < 0) return `${head}}`;
  let s = `${head},"p":"`;
  while (pad > PAD.length) {
    s += PAD;
    pad -= PAD.length;
  }
  return `${s}${PAD.slice(0, pad)}"}`;
}

export interface TelemetryHeader {
  readonly id: string;
  readonly seq: number;
  readonly ts: number;
}

/** Parses a telemetry payload; undefined for anything that is not one of ours. */
export function parsePayload(payload: Buffer | string): TelemetryHeader | undefined {
  let v: unknown;
  try {
    v = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== "string" || typeof o.seq !== "number" || typeof o.ts !== "number" || !Number.isInteger(o.seq) || o.seq < 1) return undefined;
  return { id: o.id, seq: o.seq, ts: o.ts };
}

/** The device id in devices/<id>/telemetry, or undefined. */
export function telemetryTopicId(topic: string): string | undefined {
  if (!topic.startsWith("devices/") || !topic.endsWith("/telemetry")) return undefined;
  const id = topic.slice(8, -10);
  return id.length > 0 && !id.includes("/") ? id : undefined;
}
