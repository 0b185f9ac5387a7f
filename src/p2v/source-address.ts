/** SOURCE as `user@host[:port]` (IPv6 as `user@[::1]:port`). Pure. */
import { EtherplaneError } from "../foundation/errors.js";

export interface SourceAddress {
  user: string;
  host: string;
  port: number;
}

export function parseSourceAddress(text: string): SourceAddress {
  const match =
    /^([a-z_][a-z0-9_.-]{0,31})@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(
      text,
    );
  const port = Number(match?.[3] ?? "22");
  if (!match?.[1] || !match[2] || port < 1 || port > 65535)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `SOURCE ${JSON.stringify(text.slice(0, 80))} is not user@host[:port], e.g. root@10.0.0.5 or root@srv1:2222`,
    );
  return { user: match[1], host: match[2].replace(/^\[|\]$/g, ""), port };
}
