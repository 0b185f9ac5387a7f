/**
 * Where the controller's TLS material comes from: its own CA and serving certificate in
 * `DATA_DIR/tls` (made on first start; keys 0600), or the files an admin names with
 * `--tls-cert/--tls-key`. Either way the result names the certificate a join token pins: the
 * top of the served chain (the CA when the controller made its own).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { replaceFileSync } from "../../foundation/atomic-file.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { certCovers, certSha256, makeCa, makeServingCert, splitPem } from "./certificates.js";
import { X509Certificate } from "node:crypto";

export interface ServingTls {
  /** The serving certificate, then its chain up to the pinned certificate. */
  certPem: string;
  keyPem: string;
  /** The certificate clients trust (the CA), PEM. */
  caPem: string;
  /** Its SHA-256, lower-case hex: what join tokens carry. */
  caSha256: string;
}

const RENEW_BEFORE_MS = 30 * 86_400_000;
const PEM_BYTES_MAX = 1024 * 1024;

/** The names a serving certificate covers when the controller listens on `listenHost`. */
export function servingNames(listenHost: string): string[] {
  const names = new Set<string>();
  const wildcard = listenHost === "0.0.0.0" || listenHost === "::" || listenHost === "";
  if (!wildcard) names.add(listenHost);
  names.add(os.hostname());
  names.add("localhost");
  names.add("127.0.0.1");
  names.add("::1");
  if (wildcard)
    for (const addresses of Object.values(os.networkInterfaces()))
      for (const a of addresses ?? []) names.add(a.address.replace(/%.*$/, ""));
  return [...names];
}

function read(file: string, what: string): string {
  try {
    const stat = fs.statSync(file);
    if (stat.size > PEM_BYTES_MAX)
      throw new EtherplaneError("INVALID_CONFIG", `${what} ${file} is larger than 1 MiB`);
    return fs.readFileSync(file, "utf8");
  } catch (cause) {
    if (cause instanceof EtherplaneError) throw cause;
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `cannot read ${what} ${file}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * The controller's own CA and serving certificate in `dir`, made when missing; the serving
 * certificate is made again when it does not cover `names` or expires within 30 days.
 */
export function ensureOwnTls(dir: string, names: readonly string[], nowMs: number): ServingTls {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKeyFile = path.join(dir, "ca.key");
  const caCertFile = path.join(dir, "ca.pem");
  const keyFile = path.join(dir, "server.key");
  const certFile = path.join(dir, "server.pem");
  if (!fs.existsSync(caKeyFile) || !fs.existsSync(caCertFile)) {
    const ca = makeCa(`etherplane controller CA (${os.hostname()})`, nowMs);
    replaceFileSync(caKeyFile, ca.keyPem);
    replaceFileSync(caCertFile, ca.certPem, 0o644);
    fs.rmSync(certFile, { force: true });
  }
  const ca = {
    keyPem: read(caKeyFile, "the CA key"),
    certPem: read(caCertFile, "the CA certificate"),
  };
  let serving: { keyPem: string; certPem: string } | undefined;
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    serving = {
      keyPem: read(keyFile, "the serving key"),
      certPem: read(certFile, "the serving certificate"),
    };
    const cert = new X509Certificate(serving.certPem);
    const stale =
      Date.parse(cert.validTo) - nowMs < RENEW_BEFORE_MS ||
      !names.every((n) => certCovers(serving?.certPem ?? "", n)) ||
      !cert.checkIssued(new X509Certificate(ca.certPem));
    if (stale) serving = undefined;
  }
  if (!serving) {
    serving = makeServingCert(ca, names, nowMs);
    replaceFileSync(keyFile, serving.keyPem);
    replaceFileSync(certFile, serving.certPem, 0o644);
  }
  return {
    certPem: serving.certPem + ca.certPem,
    keyPem: serving.keyPem,
    caPem: ca.certPem,
    caSha256: certSha256(ca.certPem),
  };
}

/** An admin's certificate (PEM, the serving one first, then its chain) and key. */
export function loadTlsFiles(certFile: string, keyFile: string): ServingTls {
  const certPem = read(certFile, "--tls-cert");
  const keyPem = read(keyFile, "--tls-key");
  const chain = splitPem(certPem);
  const top = chain[chain.length - 1];
  if (!top)
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `--tls-cert ${certFile} holds no PEM certificate; give the serving certificate, then its chain`,
    );
  return { certPem, keyPem, caPem: top, caSha256: certSha256(top) };
}
