/**
 * `etherplane p2v SOURCE --name NAME ...`: a running Linux server into a domain on a new volume.
 * Inspect over SSH, plan (and stop there with --dry-run), create the volume through the
 * controller, make its file system and mount it here (landing.ts), stream the source's tar into
 * it, fix the copy, define the domain, start it with --start. `--final` is the second pass: rsync
 * of the changes into the existing volume, after the administrator stopped the source's services.
 * A failed first pass deletes the volume (unless --keep-partial).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TaskRecord, VolumeRecord } from "../../cluster/model.js";
import { BOOT_DIR_DEFAULT } from "../../cluster/agent/compute/boot-files.js";
import { childPath } from "../../foundation/contained-path.js";
import { EtherplaneError, errorMessage, isEtherplaneError } from "../../foundation/errors.js";
import { applyEdits } from "../../p2v/apply-edits.js";
import { domainFile } from "../../p2v/domain-file.js";
import type { CopyEdit } from "../../p2v/edits.js";
import { bootFileNames, FIXUP_FILES, fixups, type SourceFiles } from "../../p2v/fixups.js";
import { INSPECT_SCRIPT, parseFacts, type SourceFacts } from "../../p2v/inspect.js";
import { checkPinSyntax } from "../../p2v/known-hosts.js";
import { checkExtlinux, installExtlinux, makeFileSystem, runTool } from "../../p2v/local-tools.js";
import { EXTLINUX_DIR, extlinuxConfEdit, type BootFrom } from "../../p2v/volume-boot.js";
import { planP2v, type P2vPlan } from "../../p2v/plan.js";
import { parseSourceAddress } from "../../p2v/source-address.js";
import { SshSource } from "../../p2v/ssh-source.js";
import {
  knownHostsLine,
  nestedMountPoints,
  parseRsyncStats,
  rsyncArgs,
  tarCopy,
} from "../../p2v/transfer.js";
import type { VlanNetwork } from "../../p2v/vlan.js";
import { parse, parseSize, usageError } from "../args.js";
import { requestAllPages } from "../client/pages.js";
import { apiTaskSource } from "../client/task-source.js";
import { openSession, sessionFlags, type Session } from "../cluster/session.js";
import { followTask } from "../output/task-follower.js";
import { closeVolume, mountDevice, openVolume, type OpenedVolume } from "./landing.js";
import { printPlan, printReport, type P2vReport } from "./p2v-report.js";
import { ProgressView } from "./progress-view.js";
import {
  DomainImportResponse,
  DomainTaskReply,
  DomainWithAvailabilityReply,
  NetworkListReply,
  VolumeReply,
  VolumeTaskResponse,
} from "../../api/replies.js";

const usage = `etherplane p2v SOURCE --name NAME [options]      SOURCE is user@host[:port]
  --size SIZE | --pool POOL | --memory MIB | --vcpus N | --network NET (a vif on that bridge)
  --hypervisor qemu|xen      console and boot for this driver (default qemu: ttyS0, direct kernel boot)
  --identity KEYFILE         the SSH key (else the ssh-agent at SSH_AUTH_SOCK); never a password
  --host-key SHA256:...|KEY  pin the source's host key (else --known-hosts, default ~/.ssh/known_hosts)
  --boot host|volume         host (default): the source's kernel copied to --boot-dir for direct boot;
                             volume: extlinux in the copy boots it (firmware/pygrub), no host file needed
  --boot-dir DIR             this host's boot directory for the source's kernel (default ${BOOT_DIR_DEFAULT})
  --final                    second pass: rsync the changes into the volume of the first pass
  --dry-run | --start | --keep-partial
  common: [--json] [--controller URL] [--token-file FILE|--token -]`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const MIB = 1024 ** 2;
const enc = encodeURIComponent;

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw usageError(`--${flag} ${text}: give a whole number`, usage);
  return n;
}

function readKnownHosts(file: string | undefined): string {
  const chosen = file ?? path.join(os.homedir(), ".ssh", "known_hosts");
  try {
    return fs.readFileSync(chosen, "utf8");
  } catch (cause) {
    if (file !== undefined)
      throw new EtherplaneError("NOT_FOUND", `--known-hosts ${file}: ${errorMessage(cause)}`, {
        cause,
      });
    return "";
  }
}

async function follow(session: Session, task: TaskRecord): Promise<TaskRecord> {
  return followTask(apiTaskSource(session.client), task.id, {
    output: process.stderr,
    isTTY: process.stderr.isTTY === true && !session.json,
  });
}

async function vlanNetworks(session: Session): Promise<VlanNetwork[]> {
  const { networks } = await requestAllPages(
    session.client,
    "/api/v1/networks",
    "networks",
    NetworkListReply,
  );
  return networks.map((n) => ({ name: n.name, host: n.hostId, vlanId: n.vlanId }));
}

function bootEdits(plan: P2vPlan, bootFrom: BootFrom, bootDir: string, uuid: string): CopyEdit[] {
  if (bootFrom === "host") return kernelEdits(plan, bootDir);
  const conf = extlinuxConfEdit(plan, uuid);
  return conf ? [conf] : [];
}

/** A directory of the copy, made if missing; refused when a part of it is a symlink (it could lead out of the copy). */
function dirInCopy(mountDir: string, dir: string): string {
  let current = fs.realpathSync(mountDir);
  for (const part of dir.split("/").filter((p) => p !== "")) {
    current = path.join(current, part);
    const stat = fs.lstatSync(current, { throwIfNoEntry: false });
    if (stat === undefined) fs.mkdirSync(current, { mode: 0o755 });
    else if (!stat.isDirectory())
      throw new EtherplaneError(
        "FORBIDDEN",
        `${dir} in the copy is not a directory (${current} is ${stat.isSymbolicLink() ? "a symlink" : "a file"} on the source): ` +
          "fix it there, or leave out --boot volume",
      );
  }
  return current;
}

async function readSourceFiles(source: SshSource): Promise<SourceFiles> {
  const files: SourceFiles = {};
  for (const file of FIXUP_FILES) {
    const text = await source.readFile(file);
    if (text !== undefined) files[file] = text;
  }
  return files;
}

function kernelEdits(plan: P2vPlan, bootDir: string): CopyEdit[] {
  const names = bootFileNames(plan);
  if (!names || !plan.kernel) return [];
  const edits: CopyEdit[] = [
    {
      kind: "copy-out",
      path: plan.kernel.kernel,
      to: childPath(bootDir, names.kernel),
      change: `kernel: ${plan.kernel.kernel} copied to ${path.join(bootDir, names.kernel)} (direct boot)`,
    },
  ];
  if (plan.kernel.initrd && names.ramdisk)
    edits.push({
      kind: "copy-out",
      path: plan.kernel.initrd,
      to: childPath(bootDir, names.ramdisk),
      change: `initrd: ${plan.kernel.initrd} copied to ${path.join(bootDir, names.ramdisk)}`,
    });
  return edits;
}

export async function p2vCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      ...sessionFlags,
      name: { type: "string" },
      size: { type: "string" },
      pool: { type: "string" },
      memory: { type: "string" },
      vcpus: { type: "string" },
      network: { type: "string" },
      "keep-vlan": { type: "boolean" },
      hypervisor: { type: "string" },
      identity: { type: "string" },
      "host-key": { type: "string" },
      "known-hosts": { type: "string" },
      "boot-dir": { type: "string" },
      boot: { type: "string" },
      final: { type: "boolean" },
      "dry-run": { type: "boolean" },
      start: { type: "boolean" },
      "keep-partial": { type: "boolean" },
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  if (positionals.length !== 1 || !positionals[0])
    throw usageError("p2v: name one SOURCE, e.g. root@10.0.0.5", usage);
  const address = parseSourceAddress(positionals[0]);
  const name = values.name;
  if (!name || !NAME.test(name))
    throw usageError(
      "p2v: give --name NAME (letters, digits, _ . -), the domain's and the volume's name",
      usage,
    );
  const hypervisor = values.hypervisor ?? "qemu";
  if (hypervisor !== "qemu" && hypervisor !== "xen")
    throw usageError(`--hypervisor ${hypervisor}: qemu or xen`, usage);
  if (values["host-key"] !== undefined) checkPinSyntax(values["host-key"]);
  const sizeBytes = values.size === undefined ? undefined : parseSize("size", values.size);
  const memoryMiB =
    values.memory === undefined
      ? undefined
      : /^[0-9]+$/.test(values.memory)
        ? positiveInt("memory", values.memory)
        : Math.floor(parseSize("memory", values.memory) / MIB);
  const vcpus = positiveInt("vcpus", values.vcpus);
  const bootDir = path.resolve(values["boot-dir"] ?? BOOT_DIR_DEFAULT);
  const bootFrom = values.boot ?? "host";
  if (bootFrom !== "host" && bootFrom !== "volume")
    throw usageError(`--boot ${bootFrom}: host or volume`, usage);
  const json = values.json === true;

  const source = await SshSource.connect(address, {
    identityFile: values.identity,
    agentSocket: process.env["SSH_AUTH_SOCK"],
    knownHosts: values["host-key"] === undefined ? readKnownHosts(values["known-hosts"]) : "",
    hostKeyPin: values["host-key"],
  });
  try {
    const inspection = await source.run(INSPECT_SCRIPT);
    const facts = parseFacts(inspection.stdout);
    const keepVlan = values["keep-vlan"] === true;
    // --keep-vlan chooses among the cluster's networks: the session opens once (--token - reads stdin).
    const early = keepVlan ? await openSession(values) : undefined;
    const networks = early ? await vlanNetworks(early) : undefined;
    const plan = planP2v(facts, {
      name,
      hypervisor,
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
      ...(memoryMiB === undefined ? {} : { memoryMiB }),
      ...(vcpus === undefined ? {} : { vcpus }),
      ...(values.network === undefined ? {} : { network: values.network }),
      ...(networks === undefined ? {} : { keepVlan, networks }),
    });
    if (values.final && !facts.hasRsync)
      throw new EtherplaneError(
        "UNAVAILABLE",
        "--final needs rsync on the source: install it there (apt-get install rsync)",
      );
    if (bootFrom === "volume" && !plan.kernel)
      throw new EtherplaneError(
        "NOT_FOUND",
        `--boot volume: the source's /boot has no kernel for ${facts.kernel} (vmlinuz-${facts.kernel}): ` +
          "install one there, or leave out --boot volume; nothing was created",
      );
    if (bootFrom === "volume" && !values["dry-run"]) await checkExtlinux();
    const files = await readSourceFiles(source);
    if (values["dry-run"]) {
      const preview = fixups({ plan, facts, files, uuid: "<new-uuid>" });
      const boot =
        bootFrom === "host" && (hypervisor === "qemu" || plan.kernel)
          ? bootFileNames(plan)
          : undefined;
      return printPlan(
        json,
        plan,
        [...preview.edits, ...bootEdits(plan, bootFrom, bootDir, "<new-uuid>")],
        preview.notes,
        domainFile({ plan, address: undefined, boot, hypervisor }),
        source.fingerprint,
      );
    }
    const session = early ?? (await openSession(values));
    await run({
      session,
      source,
      facts,
      plan,
      files,
      bootDir,
      bootFrom,
      hypervisor,
      json,
      identity: values.identity,
      final: values.final === true,
      start: values.start === true,
      keepPartial: values["keep-partial"] === true,
      pool: values.pool,
    });
  } finally {
    source.close();
  }
}

interface RunInput {
  session: Session;
  source: SshSource;
  facts: SourceFacts;
  plan: P2vPlan;
  files: SourceFiles;
  bootDir: string;
  bootFrom: BootFrom;
  hypervisor: "qemu" | "xen";
  json: boolean;
  identity: string | undefined;
  final: boolean;
  start: boolean;
  keepPartial: boolean;
  pool: string | undefined;
}

async function run(input: RunInput): Promise<void> {
  const { session, source, plan, final } = input;
  const report: P2vReport = {
    source: `${source.address.user}@${source.address.host}:${source.address.port}`,
    name: plan.name,
    pass: final ? "final" : "first",
    bytes: 0,
    files: 0,
    changes: [],
    refused: [],
    notes: [],
    warnings: [...plan.warnings],
    device: "",
    domain: undefined,
    started: false,
  };
  let volume: VolumeRecord;
  if (final) {
    ({ volume } = await session.client
      .request("GET", `/api/v1/volumes/${enc(plan.name)}`, VolumeReply)
      .catch((error: unknown) => {
        if (isEtherplaneError(error, "NOT_FOUND"))
          throw new EtherplaneError(
            "NOT_FOUND",
            `--final: there is no volume ${plan.name}; run the first pass (without --final) first`,
            { cause: error },
          );
        throw error;
      }));
  } else {
    const reply = await session.client
      .request("POST", "/api/v1/volumes", VolumeTaskResponse, {
        name: plan.name,
        sizeBytes: plan.sizeBytes,
        ...(input.pool ? { pool: input.pool } : {}),
      })
      .catch((error: unknown) => {
        if (isEtherplaneError(error, "CONFLICT"))
          throw new EtherplaneError(
            "CONFLICT",
            `${errorMessage(error)}: bring that copy up to date with --final, or choose another --name`,
            { cause: error },
          );
        throw error;
      });
    volume = reply.volume;
    try {
      await follow(session, reply.task);
    } catch (error) {
      await deleteVolume(session, plan.name);
      throw error;
    }
  }
  report.device = `e${volume.shelf}.${volume.slot}`;
  if (final) await refuseRunningDomain(session, plan.name);
  // ^C or a TERM: cut the SSH connection; the copy then fails and cleans up like any other.
  const interrupt = () => source.close();
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  let opened: OpenedVolume | undefined;
  let mountDir: string | undefined;
  let mounted = false;
  try {
    opened = await openVolume(session, volume);
    const uuid = final
      ? (await runTool("blkid", ["-s", "UUID", "-o", "value", opened.device])).stdout.trim()
      : await makeFileSystem(opened.device, plan.fsType, plan.name);
    mountDir = fs.mkdtempSync(path.join(os.tmpdir(), "etherplane-p2v-"));
    await mountDevice(opened.device, mountDir);
    mounted = true;
    const progress = new ProgressView(
      final ? "final pass" : "copy",
      plan.usedBytes,
      input.json ? "json" : process.stderr.isTTY ? "tty" : "log",
    );
    if (final) await rsyncPass(input, mountDir, report);
    else {
      const outcome = await tarCopy(source, plan.copy, mountDir, input.facts.gnuTar, (p) =>
        progress.update(p),
      );
      progress.end(outcome);
      report.bytes = outcome.bytes;
      report.files = outcome.files;
      if (outcome.changedDuringCopy)
        report.warnings.push(
          "files changed on the source while they were copied: stop its services and run again with --final",
        );
      if (!input.facts.gnuTar)
        report.warnings.push(
          "the source's tar is not GNU tar: ACLs, xattrs and sparseness were not kept (the --final rsync pass keeps them)",
        );
    }
    const fix = fixups({ plan, facts: input.facts, files: input.files, uuid });
    if (input.bootFrom === "host") fs.mkdirSync(input.bootDir, { recursive: true, mode: 0o755 });
    const applied = await applyEdits(mountDir, [
      ...fix.edits,
      ...bootEdits(plan, input.bootFrom, input.bootDir, uuid),
    ]);
    report.changes.push(...applied.changes);
    report.refused.push(...applied.refused);
    report.notes.push(...fix.notes);
    if (input.bootFrom === "volume") {
      await installExtlinux(dirInCopy(mountDir, EXTLINUX_DIR));
      report.changes.push(
        `boot: extlinux installed in the volume's first sector (${EXTLINUX_DIR}/ldlinux.sys): the domain boots from its volume on any compute host`,
      );
    }
    const boot = input.bootFrom === "host" ? bootFileNames(plan) : undefined;
    if (boot)
      report.notes.push(
        `the domain boots ${[boot.kernel, boot.ramdisk].filter(Boolean).join(" and ")} from its compute host's boot directory (the agent's --boot-dir): ` +
          `they are in ${input.bootDir} on this machine; copy them there when the compute host is another machine, ` +
          "or run p2v with --boot volume (the copy boots from its own volume)",
      );
    await closeVolume(opened, mountDir);
    mounted = false;
    opened = undefined;
    report.domain = await defineDomain(input, volume, report);
    if (input.start) {
      const reply = await session.client.request(
        "POST",
        `/api/v1/domains/${enc(plan.name)}/start`,
        DomainTaskReply,
        {},
      );
      await follow(session, reply.task);
      report.started = true;
    }
    report.notes.push(
      `the source ${report.source} is still running: switch it off once the domain ${plan.name} serves (${final ? "" : "after a --final pass, "}then start the domain)`,
    );
  } catch (error) {
    if (mounted || opened) await closeVolume(opened, mounted ? mountDir : undefined);
    if (!final && !input.keepPartial) {
      await deleteVolume(session, plan.name);
      throw new EtherplaneError(
        isEtherplaneError(error) ? error.code : "INTERNAL",
        `${errorMessage(error)}; volume ${plan.name} deleted (--keep-partial keeps it for a re-run with --final)`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", interrupt);
    process.removeListener("SIGTERM", interrupt);
    // rmdir, never a recursive rm: if the unmount failed, the copy is still under it.
    if (mountDir !== undefined)
      try {
        fs.rmdirSync(mountDir);
      } catch (error) {
        process.stderr.write(`warning: ${mountDir} left in place: ${errorMessage(error)}\n`);
      }
  }
  printReport(input.json, report);
}

async function rsyncPass(input: RunInput, mountDir: string, report: P2vReport): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etherplane-p2v-ssh-"));
  const knownHostsFile = path.join(dir, "known_hosts");
  fs.writeFileSync(knownHostsFile, knownHostsLine(input.source), { mode: 0o600 });
  try {
    for (const mount of input.plan.copy) {
      const args = rsyncArgs(
        input.source,
        mount,
        nestedMountPoints(mount, input.plan.copy),
        path.join(mountDir, mount.mountPoint),
        {
          identityFile: input.identity,
          knownHostsFile,
        },
      );
      const result = await runTool("rsync", args, {
        timeoutMs: 24 * 3_600_000,
        allowFailure: true,
      });
      // 24: files vanished on the source while rsync ran (harmless on a live system).
      if (result.code !== 0 && result.code !== 24)
        throw new EtherplaneError(
          "IO_ERROR",
          `rsync of ${mount.mountPoint} failed (${result.code ?? "killed"}): ${result.stderr.trim().slice(0, 500)}`,
        );
      const stats = parseRsyncStats(result.stdout);
      report.files += stats.transferred;
      report.bytes += stats.bytes;
      report.deleted = (report.deleted ?? 0) + stats.deleted;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function defineDomain(
  input: RunInput,
  volume: VolumeRecord,
  report: P2vReport,
): Promise<string> {
  const { session, plan } = input;
  const exists = await session.client
    .request("GET", `/api/v1/domains/${enc(plan.name)}`, DomainWithAvailabilityReply)
    .then(() => true)
    .catch((error: unknown) => {
      if (isEtherplaneError(error, "NOT_FOUND")) return false;
      throw error;
    });
  if (exists) {
    report.notes.push(`domain ${plan.name} was defined already; its file is unchanged`);
    return plan.name;
  }
  const config = domainFile({
    plan,
    address: volume,
    boot: input.bootFrom === "host" ? bootFileNames(plan) : undefined,
    hypervisor: input.hypervisor,
  });
  const reply = await session.client.request("POST", "/api/v1/domains", DomainImportResponse, {
    config,
    source: `p2v ${report.source}`,
  });
  report.changes.push(...reply.changes.map((c) => `domain: ${c}`));
  report.warnings.push(...reply.warnings);
  return reply.domain.name;
}

/** --final writes into the volume: never while its domain runs from it. */
async function refuseRunningDomain(session: Session, name: string): Promise<void> {
  const domain = await session.client
    .request("GET", `/api/v1/domains/${enc(name)}`, DomainWithAvailabilityReply)
    .then((reply) => reply.domain)
    .catch((error: unknown) => {
      if (isEtherplaneError(error, "NOT_FOUND")) return undefined;
      throw error;
    });
  if (domain && domain.desiredState !== "stopped")
    throw new EtherplaneError(
      "CONFLICT",
      `domain ${name} is ${domain.desiredState}: the final pass would write under it; stop it (etherplane shutdown ${name}) and run --final again`,
    );
}

async function deleteVolume(session: Session, name: string): Promise<void> {
  try {
    const reply = await session.client.request(
      "DELETE",
      `/api/v1/volumes/${enc(name)}?force=true`,
      VolumeTaskResponse,
    );
    await follow(session, reply.task);
  } catch (error) {
    process.stderr.write(
      `etherplane: could not delete the partial volume ${name}: ${errorMessage(error)}; delete it with etherplane volume delete ${name} --force\n`,
    );
  }
}
