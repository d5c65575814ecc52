import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * README "Architecture", the dependency rule, read from the source files' import
 * lines: pki/ is the ground floor; enroll/, broker/ and device-sim/ stand on it
 * (and on db/) and never import one another's internals. The one exception is
 * device-sim/gateway-seam.ts, the simulator's named door into enroll/.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/** Every module specifier of static imports, re-exports and dynamic import() calls, resolved to a top-level folder of the repository. */
export function importedFolders(file: string, text: string): { spec: string; folder: string }[] {
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!);
  return specs
    .filter((s) => s.startsWith("."))
    .map((spec) => ({ spec, folder: path.relative(root, path.resolve(root, path.dirname(file), spec)).split(path.sep)[0]! }));
}

// Product code never stands on the test kit (testkit/: what tests and benchmarks share) or on test/.
const NOT_PRODUCT = ["testkit", "test", "bench"];
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  pki: ["enroll", "broker", "device-sim", "db", "front", "runtime", "cli", ...NOT_PRODUCT],
  broker: ["enroll", "device-sim", "cli", ...NOT_PRODUCT],
  enroll: ["broker", "device-sim", "cli", ...NOT_PRODUCT],
  "device-sim": ["enroll", "broker", "front", "cli", ...NOT_PRODUCT],
  db: ["enroll", "broker", "device-sim", "front", "runtime", "cli", ...NOT_PRODUCT],
  front: ["enroll", "device-sim", "cli", ...NOT_PRODUCT],
  runtime: ["device-sim", "cli", ...NOT_PRODUCT],
  cli: NOT_PRODUCT,
};
const SEAM = path.join("device-sim", "gateway-seam.ts");

test("the spec reader sees every spelling of an import", () => {
  const text = [
    `import { a } from "../enroll/x.js";`,
    `import type { B } from '../broker/y.js';`,
    `export { c } from "../device-sim/z.js";`,
    `import {\n  d,\n  e,\n} from "../db/w.js";`,
    `import "../front/side-effect.js";`,
    `const m = await import("../cli/v.js");`,
  ].join("\n");
  assert.deepEqual(importedFolders("pki/t.ts", text).map((i) => i.folder).sort(), ["broker", "cli", "db", "device-sim", "enroll", "front"]);
});

for (const [layer, forbidden] of Object.entries(FORBIDDEN)) {
  test(`${layer}/ imports nothing from ${forbidden.join(", ")}${layer === "device-sim" ? " (except through gateway-seam.ts)" : ""}`, () => {
    const files = sources(layer);
    assert.ok(files.length > 0, `${layer}/ has sources`);
    const bad: string[] = [];
    for (const file of files) {
      for (const { spec, folder } of importedFolders(file, fs.readFileSync(path.join(root, file), "utf8"))) {
        if (file === SEAM && folder === "enroll") continue;
        if (forbidden.includes(folder)) bad.push(`${file}: ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });
}

test("the simulator's seam into enroll/ only re-exports", () => {
  const text = fs.readFileSync(path.join(root, SEAM), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").trim();
  for (const line of text.split("\n")) assert.match(line, /^export \{ [\w, ]+ \} from "\.\.\/enroll\/[\w-]+\.js";$/, line);
});
