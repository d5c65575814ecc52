/** Small summaries of millisecond samples for scenario reports. */
export function summarize(samples: readonly number[]): { p50: number | null; p99: number | null; max: number | null } {
  if (samples.length === 0) return { p50: null, p99: null, max: null };
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1]!) };
}
