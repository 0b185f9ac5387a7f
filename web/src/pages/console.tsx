/**
 * A domain's serial console in xterm.js, through the controller's console broker like
 * `etherplane console`: a single-use ticket fetched with the token, then a WebSocket carrying
 * the console's bytes both ways (history first, then live). The terminal fits its box and
 * follows the window's size (a serial line has no size to tell the guest: `stty cols N` in the
 * guest if a program needs one); leaving the page closes the socket (1000) and ends the session.
 */
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "preact/hooks";
import { message, type PageProps } from "./common";

export function ConsolePage({ api, canWrite, name }: PageProps & { name: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState("connecting…");
  const [size, setSize] = useState("");
  useEffect(() => {
    if (!box.current || !canWrite) return;
    const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    const resized = term.onResize(({ cols, rows }) => setSize(`${cols}x${rows}`));
    const refit = () => fit.fit();
    refit();
    setSize(`${term.cols}x${term.rows}`);
    const watcher = new ResizeObserver(refit);
    watcher.observe(box.current);
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
      resized.dispose();
      watcher.disconnect();
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
          <div class="terminal" ref={box} data-testid="terminal" data-size={size} />
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
