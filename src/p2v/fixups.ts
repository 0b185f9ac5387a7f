/**
 * Every change the copy needs to boot as a domain, from the source's files as read over SSH:
 * fstab, console getty, network names, hostname (kept; written only when the source had no
 * /etc/hostname), and the kernel copied out to the host's boot directory. Pure.
 */
import { consoleEdits } from "./console.js";
import type { CopyEdit } from "./edits.js";
import { rewriteFstab } from "./fstab.js";
import { networkEdits, PERSISTENT_NET_RULES } from "./network.js";
import type { P2vPlan } from "./plan.js";
import type { SourceFacts } from "./inspect.js";

/** The source files the fix-up reads (each undefined when the source has none). */
export const FIXUP_FILES = [
  "/etc/fstab",
  "/etc/inittab",
  "/etc/securetty",
  "/etc/network/interfaces",
  "/etc/hostname",
  PERSISTENT_NET_RULES,
] as const;

export type SourceFiles = Partial<Record<(typeof FIXUP_FILES)[number], string>>;

export interface FixupInput {
  plan: P2vPlan;
  facts: Pick<SourceFacts, "init" | "primaryInterface">;
  files: SourceFiles;
  /** The new file system's UUID (a placeholder in a dry run). */
  uuid: string;
}

export interface Fixups {
  edits: CopyEdit[];
  /** What stays as it was and the report should say so. */
  notes: string[];
}

export function fixups(input: FixupInput): Fixups {
  const { plan, files } = input;
  const edits: CopyEdit[] = [];
  const notes: string[] = [];
  const merged = new Set(plan.copy.map((m) => m.mountPoint).filter((mp) => mp !== "/"));
  const fstab = rewriteFstab(files["/etc/fstab"] ?? "", {
    rootSpec: `UUID=${input.uuid}`,
    rootFsType: plan.fsType,
    mergedMountPoints: merged,
  });
  if (fstab.changes.length > 0)
    edits.push({
      kind: "write",
      path: "/etc/fstab",
      text: fstab.text,
      change: fstab.changes.join("; "),
    });
  edits.push(
    ...consoleEdits(
      {
        init: input.facts.init,
        inittab: files["/etc/inittab"],
        securetty: files["/etc/securetty"],
      },
      plan.consoleTty,
    ),
  );
  edits.push(
    ...networkEdits({
      primary: input.facts.primaryInterface,
      interfaces: files["/etc/network/interfaces"],
      persistentNetRules: files[PERSISTENT_NET_RULES],
      ...(plan.vlan
        ? {
            vlan: {
              interface: plan.vlan.interface,
              parent: plan.vlan.parent,
              untagged: plan.keepVlan,
            },
          }
        : {}),
    }),
  );
  if (files["/etc/hostname"] === undefined && plan.hostname !== "")
    edits.push({
      kind: "write",
      path: "/etc/hostname",
      text: `${plan.hostname}\n`,
      change: `hostname: /etc/hostname written with the source's name ${plan.hostname}`,
    });
  else notes.push(`hostname kept: ${plan.hostname}`);
  return { edits, notes };
}

/** The names the source's kernel and initrd get in the host's boot directory. */
export function bootFileNames(
  plan: Pick<P2vPlan, "name" | "kernel">,
): { kernel: string; ramdisk: string | undefined } | undefined {
  if (!plan.kernel) return undefined;
  // The source's `uname -r` becomes part of a file name here: only its harmless characters.
  const v = plan.kernel.version.replace(/[^A-Za-z0-9._+-]/g, "_").slice(0, 64);
  return {
    kernel: `p2v-${plan.name}-vmlinuz-${v}`,
    ramdisk: plan.kernel.initrd ? `p2v-${plan.name}-initrd-${v}` : undefined,
  };
}
