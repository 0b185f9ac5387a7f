/**
 * The SSH connection to the source (ssh2, a pure-JS client): the host key is checked against
 * known_hosts or the `--host-key` pin before authentication (a refused key never sees a
 * signature); authentication by a private key file or the ssh-agent (never a password). Every
 * command has a bounded output and a timeout; streams (tar) are handed to the caller.
 */
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import ssh2 from "ssh2";
import { EtherplaneError, errorMessage } from "../foundation/errors.js";
import {
  checkKnownHosts,
  checkPinnedKey,
  fingerprint,
  type HostKeyVerdict,
} from "./known-hosts.js";
import type { SourceAddress } from "./source-address.js";

export const CONNECT_TIMEOUT_MS = 20_000;
export const COMMAND_TIMEOUT_MS = 60_000;
export const COMMAND_OUTPUT_BYTES_MAX = 4 * 1024 * 1024;

export interface SshAuth {
  /** A private key file (OpenSSH or PEM, unencrypted); else the agent at SSH_AUTH_SOCK. */
  identityFile: string | undefined;
  agentSocket: string | undefined;
  /** known_hosts text, used when there is no pin. */
  knownHosts: string;
  hostKeyPin: string | undefined;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class SshSource {
  private constructor(
    private readonly client: ssh2.Client,
    readonly address: SourceAddress,
    /** The host key that was checked: rsync's ssh is pinned to it. */
    readonly hostKey: { type: string; blob: Buffer },
  ) {}

  static async connect(address: SourceAddress, auth: SshAuth): Promise<SshSource> {
    let privateKey: Buffer | undefined;
    if (auth.identityFile !== undefined) {
      try {
        privateKey = await readFile(auth.identityFile);
      } catch (cause) {
        throw new EtherplaneError(
          "NOT_FOUND",
          `--identity ${auth.identityFile}: ${errorMessage(cause)}`,
          { cause },
        );
      }
    } else if (auth.agentSocket === undefined) {
      throw new EtherplaneError(
        "UNAUTHENTICATED",
        "no SSH key: give --identity KEYFILE or run an ssh-agent (SSH_AUTH_SOCK) holding the key the source accepts",
      );
    }
    const client = new ssh2.Client();
    let verdict: HostKeyVerdict | undefined;
    let seenKey: Buffer | undefined;
    return new Promise<SshSource>((resolve, reject) => {
      const where = `${address.user}@${address.host}:${address.port}`;
      client.once("ready", () => {
        const blob = seenKey ?? Buffer.alloc(0);
        const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
        resolve(
          new SshSource(client, address, {
            type: blob.subarray(4, 4 + typeLength).toString(),
            blob,
          }),
        );
      });
      client.once("error", (error: Error & { level?: string }) => {
        client.end();
        if (verdict && !verdict.ok)
          return reject(
            new EtherplaneError("REFUSED", `${where}: ${verdict.message}`, { cause: error }),
          );
        if (error.level === "client-authentication")
          return reject(
            new EtherplaneError(
              "UNAUTHENTICATED",
              `${where} refused the key (${auth.identityFile ?? "the agent's keys"}): add its public key to the source's ~${address.user}/.ssh/authorized_keys`,
              { cause: error },
            ),
          );
        const timeout = /timed out/i.test(error.message);
        reject(
          new EtherplaneError(
            timeout ? "TIMEOUT" : "UNAVAILABLE",
            `cannot reach the source ${where}: ${error.message}; check the address, that sshd runs there and that the network lets this machine in`,
            { cause: error },
          ),
        );
      });
      client.connect({
        host: address.host,
        port: address.port,
        username: address.user,
        readyTimeout: CONNECT_TIMEOUT_MS,
        ...(privateKey ? { privateKey } : { agent: auth.agentSocket }),
        hostVerifier: (key: Buffer) => {
          seenKey = Buffer.from(key);
          verdict =
            auth.hostKeyPin !== undefined
              ? checkPinnedKey(auth.hostKeyPin, where, key)
              : checkKnownHosts(auth.knownHosts, address.host, address.port, key);
          return verdict.ok;
        },
      });
    });
  }

  get fingerprint(): string {
    return fingerprint(this.hostKey.blob);
  }

  /** Runs `command` (read by the source's login shell), output bounded, within timeoutMs. */
  run(command: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<CommandResult> {
    return this.exec(command, (channel, resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytes = 0;
      const take = (into: Buffer[]) => (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > COMMAND_OUTPUT_BYTES_MAX) {
          channel.close();
          return reject(
            new EtherplaneError(
              "PROTOCOL",
              `the source printed over ${COMMAND_OUTPUT_BYTES_MAX} bytes for: ${command.slice(0, 60)}`,
            ),
          );
        }
        into.push(chunk);
      };
      const timer = setTimeout(() => {
        channel.close();
        reject(
          new EtherplaneError(
            "TIMEOUT",
            `the source did not finish ${JSON.stringify(command.slice(0, 60))} in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      channel.on("data", take(out));
      channel.stderr.on("data", take(err));
      channel.on("close", (code: number | null) => {
        clearTimeout(timer);
        resolve({
          code,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        });
      });
    });
  }

  /** A file of the source, or undefined when it is not there (read only, never changed). */
  async readFile(path: string): Promise<string | undefined> {
    const quoted = `'${path.replace(/'/g, "'\\''")}'`;
    const result = await this.run(`test -f ${quoted} && cat ${quoted}`);
    return result.code === 0 ? result.stdout : undefined;
  }

  /** Starts `command` and hands its stdout over; `done` settles with its exit code and stderr. */
  stream(command: string): Promise<{
    stdout: Readable;
    done: Promise<CommandResult>;
    stop: () => void;
    stderrSoFar: () => string;
  }> {
    return this.exec(command, (channel, resolve) => {
      const err: Buffer[] = [];
      let errBytes = 0;
      channel.stderr.on("data", (chunk: Buffer) => {
        if ((errBytes += chunk.length) <= COMMAND_OUTPUT_BYTES_MAX) err.push(chunk);
      });
      const done = new Promise<CommandResult>((settle) => {
        let settled = false;
        const finish = (code: number | null) => {
          if (settled) return;
          settled = true;
          settle({ code, stdout: "", stderr: Buffer.concat(err).toString() });
        };
        // 'exit' (the exit-status request, RFC 4254 6.10) comes whether or not the stream was
        // read to its end; 'close' waits for that, so it is only the fallback.
        channel.once("exit", (code: number | null) => finish(code ?? null));
        channel.on("close", finish);
        this.client.once("close", () => finish(null));
      });
      resolve({
        stdout: channel,
        done,
        stop: () => channel.close(),
        stderrSoFar: () => Buffer.concat(err).toString(),
      });
    });
  }

  /**
   * Starts `command` (read by the source's login shell) and hands its channel to `use` at once,
   * before any of its events; a refusal rejects with UNAVAILABLE.
   */
  private exec<T>(
    command: string,
    use: (
      channel: ssh2.ClientChannel,
      resolve: (value: T) => void,
      reject: (error: unknown) => void,
    ) => void,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error)
          return reject(
            new EtherplaneError("UNAVAILABLE", `the source refused a command: ${error.message}`, {
              cause: error,
            }),
          );
        use(channel, resolve, reject);
      });
    });
  }

  close(): void {
    this.client.end();
  }
}
