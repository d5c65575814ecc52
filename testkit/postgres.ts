import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import pg from "pg";
import { freePort } from "./ports.js";

/**
 * A throwaway PostgreSQL server for tests: initdb into a temporary directory as
 * an unprivileged user (postgres if it exists, else nobody: the server refuses
 * to run as root), listening on 127.0.0.1 and a free port only, with its unix
 * socket in that directory and fsync off. No binaries: it throws (never skips).
 */
export interface TestPostgres {
  readonly port: number;
  /** A new, empty database on this server; returns its postgres:// URL. */
  createDatabase(name?: string): Promise<string>;
  /** SIGINT (fast shutdown), wait for the exit, remove the directory. */
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))) : [];
  const v = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (v === undefined) throw new Error(`PostgreSQL server binaries not found (${root}/*/bin/initdb): install the postgresql package (.ci/run does)`);
  return path.join(root, v, "bin");
}

function serverUser(): { uid: number; gid: number } {
  for (const name of ["postgres", "nobody"]) {
    const r = spawnSync("id", ["-u", name], { encoding: "utf8" });
    if (r.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim()) };
  }
  throw new Error("no unprivileged user (postgres or nobody) to run the test PostgreSQL server as");
}

async function waitReady(url: string, child: ChildProcess, log: () => string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`test PostgreSQL exited (${child.exitCode}): ${log()}`);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      return;
    } catch {
      await c.end().catch(() => undefined);
      if (Date.now() > until) throw new Error(`test PostgreSQL did not accept connections within ${ms} ms: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const user = serverUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fg-pg-"));
  const data = path.join(dir, "data");
  fs.chownSync(dir, user.uid, user.gid);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" };
  const asUser = { uid: user.uid, gid: user.gid, env, cwd: dir };
  const init = spawnSync(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], { ...asUser, encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error?.message}`);
  const port = await freePort();
  let out = "";
  const child = spawn(path.join(bin, "postgres"), [
    "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
    "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=100",
  ], { ...asUser, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()).length > 20_000 && (out = out.slice(-10_000)));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()).length > 20_000 && (out = out.slice(-10_000)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(admin, child, () => out);
  } catch (e) {
    await stop();
    throw e;
  }
  let n = 0;
  return {
    port,
    stop,
    async createDatabase(name = `fg_${process.pid}_${++n}`) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad test database name ${name}`);
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
  };
}
