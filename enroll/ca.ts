import type crypto from "node:crypto";
import type { Role } from "../db/types.js";
import { toPem } from "../pki/der.js";
import { buildCrl, type CrlEntry } from "../pki/crl.js";
import { CertSigner, type IssuedCertificate, makeIssuer } from "../pki/signer.js";
import { clientProfile } from "./profile.js";

export interface CaOptions {
  readonly root: { readonly certDer: Buffer };
  /** The issuing CA's key goes in here and never comes out: only the methods below sign with it. */
  readonly issuing: { readonly certDer: Buffer; readonly key: crypto.KeyObject };
  readonly certDays: number;
  readonly clock: () => number;
  /** Where device certificates say the CRL is; a function because the port may be known only after listen. */
  readonly crlUrl: () => string;
}

/**
 * The issuing CA as the enrollment service sees it: a narrow interface that
 * signs client certificates from the profile (RFC 7030 §4.2 leaves the content
 * to the CA), signs the CRL (RFC 5280 §5) and exposes the chain for /cacerts
 * (RFC 7030 §4.1). The private key stays inside: there is no accessor for it,
 * nor for the Issuer that carries it.
 */
export class CertificateAuthority {
  readonly rootDer: Buffer;
  readonly issuingDer: Buffer;
  readonly rootPem: string;
  readonly issuingPem: string;
  /** SubjectKeyIdentifier of the issuing CA (hex): the AKI of everything it signs. */
  readonly keyId: string;
  readonly #issuer: ReturnType<typeof makeIssuer>;
  readonly #signer: CertSigner;
  /** The options without the key: nothing but #issuer keeps it. */
  private readonly opts: Pick<CaOptions, "certDays" | "clock" | "crlUrl">;

  constructor(opts: CaOptions) {
    this.opts = { certDays: opts.certDays, clock: opts.clock, crlUrl: opts.crlUrl };
    this.#issuer = makeIssuer(opts.issuing.certDer, opts.issuing.key);
    this.#signer = new CertSigner(this.#issuer);
    this.keyId = this.#issuer.ski;
    this.rootDer = opts.root.certDer;
    this.issuingDer = opts.issuing.certDer;
    this.rootPem = toPem(this.rootDer, "CERTIFICATE");
    this.issuingPem = toPem(this.issuingDer, "CERTIFICATE");
  }

  /** Issues a client certificate for a device, service or admin from the profile; only the key comes from the request. */
  issueClient(role: Role, name: string, spkiDer: Buffer, days = this.opts.certDays): IssuedCertificate {
    return this.#signer.sign(clientProfile({ role, name, now: this.opts.clock(), days, crlUrl: this.opts.crlUrl() }), spkiDer);
  }

  /** A v2 CRL over `entries`, signed by the issuing CA (RFC 5280 §5). */
  signCrl(entries: readonly CrlEntry[], crlNumber: number, now = this.opts.clock()): Buffer {
    return buildCrl(this.#issuer, entries, crlNumber, now);
  }

  get certDays(): number {
    return this.opts.certDays;
  }

  crlUrl(): string {
    return this.opts.crlUrl();
  }
}

export type { IssuedCertificate } from "../pki/signer.js";
