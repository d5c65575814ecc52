import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
import { startTestGateway } from "../../testkit/gateway.js";
import { issueDirect } from "../../testkit/certs.js";
import { sq } from "../../testkit/registry.js";

const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

/** The README's admin API curl examples, run as written against a real gateway (only the data dir and port differ). */
test("README admin API examples work as written", async () => {
  const block = /<!-- api-examples -->\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, "README has the api-examples block");
  const g = await startTestGateway();
  try {
    issueDirect(g.gw.deps, "dev-001");
    issueDirect(g.gw.deps, "backend", { role: "service" });
    const script = block.replaceAll("data/", `${g.dataDir}/`).replaceAll("https://localhost:8443", `https://localhost:${g.gw.httpsPort}`);
    const commands = script.replace(/\\\n\s*/g, " ").split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    const [assignment, ...calls] = commands;
    assert.match(assignment!, /^ADMIN=/);
    assert.ok(calls.length >= 7);
    for (const c of calls) {
      // --fail-with-body: any 4xx/5xx makes curl exit non-zero, so "works" means a 2xx answer.
      const cmd = `set -euo pipefail; ${assignment}; ${c.replace(/^curl /, "curl --fail-with-body ")}`;
      // Asynchronous: the gateway runs in this process and must keep serving while curl waits.
      const { stdout: out } = await run("bash", ["-c", cmd], { encoding: "utf8" });
      assert.ok(out.length > 0, c);
      if (c.includes("-X POST https://localhost") && c.includes("/api/v1/tokens")) assert.match(out, /"token":"[A-Za-z0-9_-]{43}"/);
      if (c.includes("-X DELETE")) assert.match(out, /"cancelled":1/);
      if (c.includes("/revoke")) assert.match(out, /"status":"revoked"/);
      if (c.includes("/crl")) assert.match(out, /Certificate Revocation List/);
    }
    assert.equal(sq(g.gw.deps.store).sync.devices.get("dev-001")?.status, "revoked");
    assert.equal(sq(g.gw.deps.store).sync.certificates.credentials().find((c) => c.name === "backend")?.status, "revoked");
  } finally {
    await g.close();
  }
});
