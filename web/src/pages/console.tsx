/**
 * A domain's serial console in xterm.js, through the controller's console broker like
 * `etherplane console`: a single-use ticket fetched with the token, then a WebSocket carrying
 * the console's bytes both ways (history first, then live).
 */
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "preact/hooks";
import { message, type PageProps } from "./common";

export function ConsolePage({ api, canWrite, name }: PageProps & { name: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState("connecting…");
  useEffect(() => {
    if (!box.current || !canWrite) return;
    const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
    term.open(box.current);
    term.focus();
    let socket: WebSocket | null = null;
    let closedByUs = false;
    const encoder = new TextEncoder();
    const typing = term.onData((text) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(text));
    });
    api
      .consoleTicket(name)
      .then(({ ticket, path }) => {
        const scheme = location.protocol === "https:" ? "wss:" : "ws:";
        socket = new WebSocket(
          `${scheme}//${location.host}${path}?ticket=${encodeURIComponent(ticket)}`,
        );
        socket.binaryType = "arraybuffer";
        socket.onopen = () => setStatus("connected");
        socket.onmessage = (event: MessageEvent<ArrayBuffer | string>) =>
          term.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
        socket.onclose = (event) => {
          if (closedByUs) return;
          setStatus(
            event.code >= 4000
              ? `refused: ${event.reason}`
              : `closed${event.reason ? `: ${event.reason}` : ""}`,
          );
        };
      })
      .catch((error: unknown) => setStatus(`refused: ${message(error)}`));
    return () => {
      closedByUs = true;
      typing.dispose();
      socket?.close(1000, "page left");
      term.dispose();
    };
  }, [api, name, canWrite]);
  return (
    <>
      <p class="crumbs">
        <a href="#/domains">Domains</a> /{" "}
        <a href={`#/domains/${encodeURIComponent(name)}`}>{name}</a> /
      </p>
      <h1>Console of {name}</h1>
      {canWrite ? (
        <>
          <p role="status" data-testid="console-status">
            {status}
          </p>
          <div class="terminal" ref={box} data-testid="terminal" />
          <p class="muted">
            Keys go to the guest while the terminal has focus; Tab and Shift+Tab leave it only with
            the mouse or by closing: <a href={`#/domains/${encodeURIComponent(name)}`}>close</a>.
          </p>
        </>
      ) : (
        <p>A viewer token cannot open consoles (they accept input).</p>
      )}
    </>
  );
}
