import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";

/** Creates a directory (and parents) with mode 0700, and tightens it if it already existed. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/**
 * Writes a file atomically (temp file, fsync, rename) with the given mode, so a
 * crash never leaves a half-written key or certificate behind.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, "wx", mode);
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** Private keys: 0600, always. */
export const writeKeyFile = (file: string, pem: string) => writeFileAtomic(file, pem, 0o600);
export const writePublicFile = (file: string, pem: string) => writeFileAtomic(file, pem, 0o644);
