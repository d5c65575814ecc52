/**
 * The simulator's clock: epoch milliseconds with sub-millisecond resolution,
 * read from the process-wide monotonic clock plus one anchor. Threads that
 * share the anchor read the same time, so a timestamp taken by a device on the
 * main thread and the receive time taken by the subscriber thread compare
 * exactly (end-to-end latency), and wall-clock steps never make it negative.
 */
const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Epoch ms minus monotonic ms, sampled now. */
export function clockAnchor(): number {
  return Date.now() - hrMs();
}

export function anchoredClock(anchor: number): () => number {
  return () => anchor + hrMs();
}
