/**
 * Liveness and readiness (README "Metrics": /healthz and /readyz). The gateway
 * is ready while it serves (not draining) and every named check passes within
 * its timeout. Checks are a list so another dependency (e.g. a Redis between
 * nodes) is one more entry, not a new code path.
 */

/** One named readiness check: resolves when healthy, rejects (or times out) otherwise. */
export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => Promise<void>;
}

export type CheckResult = "ok" | "failed" | "timeout";

export interface ReadinessReport {
  readonly ready: boolean;
  /** "serving", or "draining" once shutdown started (then every check is skipped). */
  readonly state: LifecycleState;
  /** Each check's outcome by name; empty while draining. */
  readonly checks: Readonly<Record<string, CheckResult>>;
}

export type LifecycleState = "serving" | "draining";

/** Whether the process still serves or drains: readiness fails from the moment draining starts, never back. */
export class Lifecycle {
  #state: LifecycleState = "serving";
  get state(): LifecycleState {
    return this.#state;
  }
  drain(): void {
    this.#state = "draining";
  }
}

export const READINESS_TIMEOUT_MS = 2_000;

function within(p: Promise<void>, ms: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  const outcome = p.then((): CheckResult => "ok", (): CheckResult => "failed");
  return Promise.race([outcome, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every check concurrently, each bounded by `timeoutMs`; a check that throws synchronously counts as failed. */
export async function evaluateReadiness(lifecycle: Lifecycle, checks: readonly ReadinessCheck[], timeoutMs = READINESS_TIMEOUT_MS): Promise<ReadinessReport> {
  if (lifecycle.state === "draining") return { ready: false, state: "draining", checks: {} };
  const results = await Promise.all(checks.map((c) => {
    let p: Promise<void>;
    try {
      p = c.check();
    } catch (e) {
      p = Promise.reject(e);
    }
    return within(p, timeoutMs);
  }));
  const out: Record<string, CheckResult> = {};
  checks.forEach((c, i) => (out[c.name] = results[i]!));
  // Draining may have begun while the checks ran: the later state wins.
  const state = lifecycle.state;
  return { ready: state === "serving" && results.every((r) => r === "ok"), state, checks: out };
}
