/** A change the fix-up makes in the copy (never on the source), and the line the report shows. */
export type CopyEdit =
  | { kind: "write"; path: string; text: string; change: string }
  | { kind: "symlink"; path: string; target: string; change: string }
  | { kind: "copy-out"; path: string; to: string; change: string };

/** Changes whose text the copy already has are not edits: the report lists real changes only. */
export type InitSystem = "systemd" | "sysvinit" | "busybox" | "openrc" | "unknown";
