/**
 * Server-sent events (the API's /api/v1/events stream) read from text chunks: pure, bounded.
 * Per the WHATWG HTML standard's "event stream interpretation": lines end in \n (or \r\n), a
 * blank line ends a message, `event:` names it, `data:` lines join with \n, `:` is a comment.
 */
import { EtherplaneError } from "../../foundation/errors.js";

export interface SseMessage {
  event: string;
  data: string;
}

/** Our messages are a few hundred bytes; a line this long is not from our controller. */
export const SSE_LINE_CHARS_MAX = 64 * 1024;

export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];

  /** The messages that `chunk` completes. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n")) !== -1) {
      const line = this.buffer.slice(0, end).replace(/\r$/, "");
      this.buffer = this.buffer.slice(end + 1);
      this.line(line, messages);
    }
    if (this.buffer.length > SSE_LINE_CHARS_MAX)
      throw new EtherplaneError(
        "PROTOCOL",
        `the controller's event stream sent a line over ${SSE_LINE_CHARS_MAX} characters`,
      );
    return messages;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === "") {
      if (this.data.length > 0 || this.event !== "")
        out.push({ event: this.event || "message", data: this.data.join("\n") });
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
  }
}
