import { retryDelay } from "./backoff.js";
import { buildDeviceCsr, type DeviceKey } from "./device-csr.js";
import type { BootstrapAuth, DeviceEnv } from "./device-env.js";
import { classifyEstFailure } from "./failure-policy.js";
import type { StoredCredential } from "./state.js";

/**
 * A device's two EST exchanges (RFC 7030 §4.2.1 simpleenroll, §4.2.2
 * simplereenroll), each with a fresh EC P-256 key, and the saving of the
 * result to the device's credential store. Retries follow failure-policy.ts.
 */
export interface EnrollControl {
  /** The run is ending: stop retrying. */
  readonly stopping: boolean;
  /** Waits on the shared scheduler (no timer of its own). */
  sleep(ms: number): Promise<void>;
}

export type EnrollOutcome =
  | { readonly kind: "ok"; readonly cred: StoredCredential }
  | { readonly kind: "failed"; readonly reason: string }
  | { readonly kind: "stopped" };

const pkcs8 = (k: DeviceKey) => k.privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** simpleenroll until it succeeds, is refused, runs out of attempts, or the run ends. */
export async function enrollFirst(env: DeviceEnv, id: string, auth: BootstrapAuth, ctl: EnrollControl, onRetry: (reason: string) => void): Promise<EnrollOutcome> {
  let key: DeviceKey;
  let csr: Buffer;
  try {
    key = await env.keygen();
    csr = buildDeviceCsr(id, key);
  } catch {
    return { kind: "failed", reason: "keygen" };
  }
  const est = "token" in auth ? { deviceId: id, token: auth.token } : { certPem: auth.certPem, keyPem: auth.keyPem };
  let certPem: string | undefined;
  for (let attempt = 1; certPem === undefined; attempt++) {
    try {
      certPem = await env.est.simpleEnroll(csr, est);
    } catch (e) {
      if (ctl.stopping) return { kind: "stopped" };
      const v = classifyEstFailure(e);
      if (!v.retry || attempt >= env.config.enrollAttempts) return { kind: "failed", reason: `enroll:${v.reason}` };
      onRetry(`enroll:${v.reason}`);
      await ctl.sleep(retryDelay(attempt, env.config.backoff, env.random, v.retryAfter));
      if (ctl.stopping) return { kind: "stopped" };
    }
  }
  try {
    return { kind: "ok", cred: await env.creds.save(id, pkcs8(key), certPem, env.clock()) };
  } catch {
    return { kind: "failed", reason: "state:write" };
  }
}

/** One simplereenroll with a new key, authorized by the current certificate; throws what the EST client threw. */
export async function reenroll(env: DeviceEnv, id: string, current: { certPem: string; keyPem: string }): Promise<StoredCredential> {
  const key = await env.keygen();
  const certPem = await env.est.simpleReenroll(buildDeviceCsr(id, key), current);
  return env.creds.save(id, pkcs8(key), certPem, env.clock());
}
