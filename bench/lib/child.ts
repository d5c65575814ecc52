import { spawn, type ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();
// A failed run must not leave brokers behind on a shared machine.
process.on("exit", () => { for (const c of children) c.kill("SIGKILL"); });

/** Kills `child` if this process exits first. */
export function reap(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

export interface ChildBroker { name: string; pid: number; port: number; stop(): Promise<void> }

/** Starts a node child process and resolves once it prints the JSON line that carries its port. */
export async function startChild(name: string, args: string[], portOf: (j: Record<string, unknown>) => number | undefined, nodeArgs: string[] = []): Promise<ChildBroker> {
  const child = reap(spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["ignore", "pipe", "inherit"] }));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = "";
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before listening`)));
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
        try {
          const p = portOf(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
          if (p) resolve(p);
        } catch { /* not JSON */ }
      }
    });
  });
  return {
    name, pid: child.pid!, port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
