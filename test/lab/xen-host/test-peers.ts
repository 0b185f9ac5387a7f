/**
 * Real peers for the Xen host lab's tests, run inside a namespace on the host's bridge: Debian's
 * vblade serving a file as an AoE disk, and a small Node.js HTTP server that stands in for the
 * controller (answers a token, remembers who asked).
 */
import type { ChildProcess } from "node:child_process";
import type { Namespace, TestNet } from "../netns.js";

const startTimeoutMs = 10_000;

/** Resolves once `child` printed something matching `ready`; rejects if it exits first. */
function waitForOutput(child: ChildProcess, ready: RegExp, what: string): Promise<string> {
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start: ${output}`)),
      startTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${output}`));
    });
  });
}

/** vblade serving `file` as e<shelf>.<slot> on `ifname`, once its socket is bound. */
export async function startVblade(
  net: TestNet,
  ns: Namespace,
  ifname: string,
  file: string,
  shelf = 1,
  slot = 0,
): Promise<ChildProcess> {
  const child = net.adopt(
    ns.spawn("vblade", [String(shelf), String(slot), ifname, file], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  // vblade.c prints "pid N: e1.0, 131072 sectors O_RDWR" once its socket is bound.
  await waitForOutput(child, new RegExp(`e${shelf}\\.${slot}, \\d+ sectors`), "vblade");
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

export interface TokenServer {
  child: ChildProcess;
  /** Remote addresses of the requests so far, as the server printed them. */
  clients(): string[];
}

/** An HTTP server on `address:port` in `ns` answering `token` to every request. */
export async function startTokenServer(
  net: TestNet,
  ns: Namespace,
  address: string,
  port: number,
  token: string,
): Promise<TokenServer> {
  const code = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  console.log("client " + req.socket.remoteAddress + " " + req.url);
  res.end(process.argv[1]);
});
server.listen(${port}, ${JSON.stringify(address)}, () => console.log("listening"));
`;
  const child = net.adopt(
    ns.spawn(process.execPath, ["-e", code, token], { stdio: ["ignore", "pipe", "pipe"] }),
  );
  let output = await waitForOutput(child, /listening/, "token server");
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    clients: () => [...output.matchAll(/^client (\S+)/gm)].map((m) => m[1] ?? ""),
  };
}
