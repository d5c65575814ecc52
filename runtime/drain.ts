import type { Logger } from "../log.js";

/** One step of shutdown, named for the log. */
export interface DrainStep {
  readonly name: string;
  readonly run: () => void | Promise<void>;
}

/**
 * Runs shutdown steps strictly in the given order, each awaited before the next.
 * A failing step is logged and the rest still run: a listener that fails to close
 * must not leave the registry open.
 */
export async function runDrain(steps: readonly DrainStep[], log: Logger): Promise<void> {
  for (const s of steps) {
    try {
      await s.run();
      log.debug({ step: s.name }, "shutdown step done");
    } catch (e) {
      log.error({ err: e, step: s.name, code: "FG_INTERNAL" }, "error while closing");
    }
  }
}
