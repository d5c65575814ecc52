import { derSequence, derTlv } from "../../pki/der.js";

/**
 * A "certs-only" PKCS#7/CMS message (RFC 7030 §4.1.3 and §4.2.3, RFC 5652 §5):
 * a SignedData with no signers and no content, carrying only certificates.
 * It is assembled from DER pieces, since the certificates already are DER.
 */
const OID_SIGNED_DATA = Buffer.from("06092a864886f70d010702", "hex"); // 1.2.840.113549.1.7.2
const OID_DATA = Buffer.from("06092a864886f70d010701", "hex"); // 1.2.840.113549.1.7.1
const VERSION_1 = Buffer.from("020101", "hex");
const EMPTY_SET = Buffer.from("3100", "hex");

export function certsOnly(certs: readonly Uint8Array[]): Buffer {
  // X.690 §11.6: DER orders the elements of a SET OF by their encodings.
  const sorted = [...certs].sort((a, b) => Buffer.compare(a, b));
  const signedData = derSequence(
    VERSION_1,
    EMPTY_SET, // digestAlgorithms
    derSequence(OID_DATA), // encapContentInfo without eContent
    derTlv(0xa0, ...sorted), // certificates [0] IMPLICIT SET OF Certificate
    EMPTY_SET, // signerInfos
  );
  return derSequence(OID_SIGNED_DATA, derTlv(0xa0, signedData));
}
