import { Writable } from "node:stream";

/** Collects pino JSON lines so tests can assert on what was logged (and on what was not). */
export class LogSink extends Writable {
  readonly raw: string[] = [];
  private pending = "";

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.pending += chunk.toString("utf8");
    let i: number;
    while ((i = this.pending.indexOf("\n")) >= 0) {
      this.raw.push(this.pending.slice(0, i));
      this.pending = this.pending.slice(i + 1);
    }
    cb();
  }

  lines(): Record<string, unknown>[] {
    return this.raw.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { unparsed: l };
      }
    });
  }

  find(pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines().find(pred);
  }

  text(): string {
    return this.raw.join("\n");
  }
}
