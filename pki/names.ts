import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AttributeTypeAndValue, AttributeValue, Extension, Name, RelativeDistinguishedName } from "@peculiar/asn1-x509";
import { derSequence, derTlv } from "./der.js";
import { OID } from "./roles.js";

/**
 * The one place that writes a subject Name and an Extension. Every name the
 * gateway writes is one RDN holding a CN (RFC 5280 §4.1.2.4 and §4.1.2.6:
 * UTF8String for new certificates); cnNameDer and cnName produce the same
 * bytes (test/unit/cert-der.test.ts).
 */
const OID_CN = Buffer.from("0603550403", "hex"); // 2.5.4.3

/** Name with one RDN, CN as UTF8String, straight to DER (the fast path: issuance and every simulated CSR). */
export function cnNameDer(cn: string): Buffer {
  return derSequence(derTlv(0x31, derSequence(OID_CN, derTlv(0x0c, Buffer.from(cn, "utf8")))));
}

/** The same Name as an @peculiar/asn1-x509 object, for structures built with the ASN.1 object model. */
export function cnName(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: OID.commonName, value: new AttributeValue({ utf8String: cn }) })]),
  ]);
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING (DER of `value`) } (RFC 5280 §4.1). */
export function extension(id: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** extension(), as DER. */
export const extensionDer = (id: string, critical: boolean, value: object): Buffer => Buffer.from(AsnConvert.serialize(extension(id, critical, value)));
