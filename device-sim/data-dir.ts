import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Store } from "../db/store.js";
import { openStore } from "../db/open.js";
import { pkiPaths, readCertDer } from "../pki/data-dir-files.js";
import { issueCredential, openCa } from "./gateway-seam.js";
import { GatewayError } from "../errors.js";

/**
 * The simulator's view of a gateway's --data directory: the registry (to mint
 * tokens) and the PKI (trust anchor, the admin
 * credential, issuing a `service` credential for the telemetry subscriber).
 * Unlike `openDataDir` it never creates or rewrites anything in the PKI: the
 * simulator must not re-issue a running gateway's server certificate.
 */
export class SimDataDir {
  readonly paths: ReturnType<typeof pkiPaths>;
  readonly caPem: string;
  private constructor(readonly dir: string, readonly store: Store, private readonly clock: () => number) {
    this.paths = pkiPaths(dir);
    this.caPem = fs.readFileSync(this.paths.rootCert, "utf8");
  }

  static open(dir: string, clock: () => number = Date.now): SimDataDir {
    const root = path.resolve(dir);
    const p = pkiPaths(root);
    if (!fs.existsSync(p.rootCert) || !fs.existsSync(path.join(root, "gateway.db"))) {
      throw new GatewayError("FG_DATA_DIR_INVALID", `${root} is not a gateway data directory (no pki/ca.pem or gateway.db): start the gateway with --data ${dir} first`);
    }
    return new SimDataDir(root, openStore(path.join(root, "gateway.db"), clock), clock);
  }

  /** The admin client credential the gateway created on its first start (README "Configuration", data directory). */
  adminCredential(): { certPem: string; keyPem: string } {
    return { certPem: fs.readFileSync(this.paths.adminCert, "utf8"), keyPem: fs.readFileSync(this.paths.adminKey, "utf8") };
  }

  /**
   * Issues a `service` credential (README "Architecture", roles: only `gateway cert issue` makes
   * those; this is the same code path) for the telemetry subscriber. The files
   * go to `outDir` when given (kept with --state), else to a temporary
   * directory that is removed once read.
   */
  async issueServiceCredential(name: string, crlUrl: string, outDir?: string): Promise<{ certPem: string; keyPem: string; name: string }> {
    const ca = openCa({ paths: this.paths, rootDer: readCertDer(this.paths.rootCert), issuingDer: readCertDer(this.paths.issuingCert) }, {
      certDays: 365,
      clock: this.clock,
      crlUrl: () => crlUrl,
    });
    const dir = outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "fg-sim-svc-"));
    try {
      const r = await issueCredential({ store: this.store, ca, clock: this.clock }, "service", name, dir, "sim");
      return { certPem: fs.readFileSync(r.certFile, "utf8"), keyPem: fs.readFileSync(r.keyFile, "utf8"), name };
    } finally {
      if (!outDir) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
