/**
 * The controller's own certificate authority and serving certificate, made on its first start.
 * node:crypto makes keys and checks certificates but cannot issue them, so node-forge builds the
 * X.509 (RSA 2048 keys from node:crypto; SHA-256 signatures). No I/O: tls-files.ts stores them.
 */
import { generateKeyPairSync, X509Certificate, createHash } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export const CA_LIFETIME_DAYS = 3650;
export const SERVING_LIFETIME_DAYS = 825;
const DAY_MS = 86_400_000;

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

function rsaKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKey: forge.pki.privateKeyFromPem(
      privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    ),
    publicKey: forge.pki.publicKeyFromPem(
      publicKey.export({ type: "spki", format: "pem" }).toString(),
    ),
  };
}

function serial(): string {
  // A positive 127-bit serial (RFC 5280 4.1.2.2: positive, at most 20 octets).
  const bytes = forge.random.getBytesSync(16);
  return `0${forge.util.bytesToHex(bytes).slice(1)}`;
}

/** A certificate for a new key, valid from a day before `nowMs` (clock skew) for `lifetimeDays`. */
function newCertificate(nowMs: number, lifetimeDays: number) {
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - DAY_MS);
  cert.validity.notAfter = new Date(nowMs + lifetimeDays * DAY_MS);
  return { keys, cert };
}

/** `cert` signed by `signer` (SHA-256), with its own key, as PEM. */
function signed(
  cert: forge.pki.Certificate,
  privateKey: forge.pki.rsa.PrivateKey,
  signer: forge.pki.rsa.PrivateKey,
): KeyAndCert {
  cert.sign(signer, forge.md.sha256.create());
  return {
    keyPem: forge.pki.privateKeyToPem(privateKey),
    certPem: forge.pki.certificateToPem(cert),
  };
}

/** A self-signed CA that may sign server certificates only (path length 0). */
export function makeCa(commonName: string, nowMs: number): KeyAndCert {
  const { keys, cert } = newCertificate(nowMs, CA_LIFETIME_DAYS);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  return signed(cert, keys.privateKey, keys.privateKey);
}

/** A serving certificate for `names` (DNS names and IP addresses), signed by `ca`. */
export function makeServingCert(
  ca: KeyAndCert,
  names: readonly string[],
  nowMs: number,
): KeyAndCert {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const { keys, cert } = newCertificate(nowMs, SERVING_LIFETIME_DAYS);
  cert.setSubject([{ name: "commonName", value: names[0] ?? "etherplane-controller" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      // node-forge: type 2 is a dNSName, type 7 an iPAddress (RFC 5280 4.2.1.6).
      altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    },
  ]);
  return signed(cert, keys.privateKey, caKey);
}

/** The certificates of a PEM bundle, in order. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** SHA-256 of a certificate's DER, lower-case hex (`openssl x509 -fingerprint -sha256`, no colons). */
export function certSha256(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
}

/** Whether `cert` (PEM) names `name` (a DNS name or IP address) among its subject alt names. */
export function certCovers(pem: string, name: string): boolean {
  const cert = new X509Certificate(pem);
  return (isIP(name) ? cert.checkIP(name) : cert.checkHost(name)) !== undefined;
}
