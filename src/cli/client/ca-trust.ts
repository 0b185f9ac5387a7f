/**
 * Which CA the CLI and agents trust for an https controller, beside the system's: a PEM file
 * (`--ca-file`, ETHERPLANE_CA_FILE, or ca.pem beside the CLI's config, written by `login` and
 * `up`), or a certificate fetched once and checked against a SHA-256 pin (a join token's, or
 * `login --ca-sha256`), the way `kubeadm join --discovery-token-ca-cert-hash` checks its CA.
 */
import { createHash, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { replaceFileSync } from "../../foundation/atomic-file.js";
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";

const PEM_BYTES_MAX = 1024 * 1024;
const PROBE_TIMEOUT_MS = 10_000;
const CHAIN_MAX = 8;

/** ca.pem beside the CLI's config file. */
export function savedCaPath(configFile: string): string {
  return path.join(path.dirname(configFile), "ca.pem");
}

export function readCaFile(file: string, source: string): string {
  let text: string;
  try {
    if (fs.statSync(file).size > PEM_BYTES_MAX)
      throw new EtherplaneError("INVALID_ARGUMENT", `${source} ${file} is larger than 1 MiB`);
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    if (cause instanceof EtherplaneError) throw cause;
    throw new EtherplaneError("INVALID_ARGUMENT", `${source} ${file}: ${errorMessage(cause)}`, {
      cause,
    });
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----"))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${source} ${file} holds no PEM certificate; give the controller's CA (DATA_DIR/tls/ca.pem)`,
    );
  return text;
}

/** The CA to trust: ETHERPLANE_CA_FILE, else the saved ca.pem; undefined for the system's. */
export function resolveCaPem(
  configFile: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const fromEnv = env["ETHERPLANE_CA_FILE"];
  if (fromEnv) return readCaFile(fromEnv, "ETHERPLANE_CA_FILE");
  const saved = savedCaPath(configFile);
  return fs.existsSync(saved) ? readCaFile(saved, "the saved CA") : undefined;
}

export function writeCaFile(file: string, pem: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  replaceFileSync(file, pem);
}

function sha256(cert: X509Certificate): string {
  return createHash("sha256").update(cert.raw).digest("hex");
}

/**
 * Connects to `baseUrl` (https), sends nothing, and returns the PEM of the certificate in the
 * served chain whose SHA-256 is `pin`, after checking that the serving certificate chains up to
 * it and names the host. Anything else is refused before a token is sent.
 */
export function fetchPinnedCa(baseUrl: string, pin: string): Promise<string> {
  const url = new URL(baseUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || 443);
  return new Promise((resolve, reject) => {
    const fail = (message: string, cause?: unknown) =>
      reject(new EtherplaneError("REFUSED", message, cause === undefined ? {} : { cause }));
    const socket = tls.connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      // Checked below against the pin instead of the system's CAs.
      rejectUnauthorized: false,
      timeout: PROBE_TIMEOUT_MS,
    });
    socket.once("timeout", () => {
      socket.destroy();
      fail(
        `the controller at ${baseUrl} did not complete a TLS handshake in ${PROBE_TIMEOUT_MS / 1000} s`,
      );
    });
    socket.once("error", (cause: Error) =>
      reject(
        new EtherplaneError(
          "UNAVAILABLE",
          `cannot reach the controller at ${baseUrl}: ${cause.message}`,
          {
            cause,
          },
        ),
      ),
    );
    socket.once("secureConnect", () => {
      const chain: X509Certificate[] = [];
      let peer: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (peer?.raw && chain.length < CHAIN_MAX) {
        chain.push(new X509Certificate(peer.raw));
        if (peer.issuerCertificate === peer) break;
        peer = peer.issuerCertificate;
      }
      socket.end();
      const at = chain.findIndex((c) => sha256(c) === pin);
      const leaf = chain[0];
      if (!leaf || at === -1)
        return fail(
          `the controller at ${baseUrl} does not present the certificate this token pins (sha256 ${pin.slice(0, 16)}...): ` +
            "is the URL right? if it is, someone may be in the middle; check with the controller's admin",
        );
      for (let i = 0; i < at; i++) {
        const child = chain[i] as X509Certificate;
        const parent = chain[i + 1] as X509Certificate;
        if (!child.checkIssued(parent) || !child.verify(parent.publicKey))
          return fail(`the controller at ${baseUrl} presents a broken certificate chain`);
      }
      if (at > 0 && (isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host)) === undefined)
        return fail(
          `the controller's certificate does not name ${host}; join with a name or address it has (${leaf.subjectAltName ?? "none"})`,
        );
      resolve((chain[at] as X509Certificate).toString());
    });
  });
}
