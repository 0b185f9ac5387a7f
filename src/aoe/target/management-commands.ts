/**
 * The management commands an export answers: query config (read, test, set; AoEr11 3.2), MAC mask
 * lists (3.3) and reserve/release (3.4). Changes go through the export's persisted state, which
 * saves them before they are answered.
 */
import { assert } from "../../foundation/assert.js";
import {
  AOE_FLAG_RESPONSE,
  AOE_VERSION,
  AoeCommand,
  AoeError,
  ConfigCommand,
  DirectiveCommand,
  MaskCommand,
  MaskError,
  ReserveCommand,
  configTestMatches,
  encodeConfig,
  encodeMacMask,
  encodeReserve,
  replyHeader,
  type AoeHeader,
  type ConfigMessage,
  type MaskMessage,
  type ReserveMessage,
} from "../codec/index.js";
import { MASK_MACS_MAX } from "./config.js";
import type { ExportSettings, Port } from "./port.js";
import type { PersistedExportState } from "./persisted-state.js";
import { applyMaskDirectives, setConfigString } from "./state-edits.js";

export const FIRMWARE_VERSION = 0x0100;

/** What a management command needs of its export. */
export interface CommandContext {
  readonly shelf: number;
  readonly slot: number;
  readonly settings: ExportSettings;
  readonly state: PersistedExportState;
  reply(port: Port, frame: Buffer): void;
  sendAoeError(header: AoeHeader, port: Port, error: number): void;
}

// --- query config

export function configFrame(
  ctx: CommandContext,
  port: Port,
  to: { dst: Buffer; tag: number },
  ccmd: number,
): Buffer {
  return encodeConfig(
    {
      dst: to.dst,
      src: port.mac,
      flags: AOE_FLAG_RESPONSE,
      error: 0,
      shelf: ctx.shelf,
      slot: ctx.slot,
      command: AoeCommand.queryConfig,
      tag: to.tag,
    },
    {
      bufferCount: ctx.settings.bufferCount,
      firmware: FIRMWARE_VERSION,
      sectorCount: port.sectorsMax,
      aoeVersion: AOE_VERSION,
      ccmd,
      configString: ctx.state.current.configString,
    },
  );
}

export function handleConfig(
  ctx: CommandContext,
  message: ConfigMessage,
  port: Port,
  broadcast: boolean,
): void {
  const { header, config } = message;
  const replyTo = { dst: header.src, tag: header.tag };
  switch (config.ccmd) {
    case ConfigCommand.read:
      return ctx.reply(port, configFrame(ctx, port, replyTo, config.ccmd));
    case ConfigCommand.testExact:
    case ConfigCommand.testPrefix:
      // A failed test gets no reply at all (AoEr11 3.2).
      if (configTestMatches(config.ccmd, ctx.state.current.configString, config.configString)) {
        ctx.reply(port, configFrame(ctx, port, replyTo, config.ccmd));
      }
      return;
    default: {
      assert(!broadcast, "broadcast config sets are filtered before");
      if (ctx.state.reservedAgainst(header))
        return ctx.sendAoeError(header, port, AoeError.targetReserved);
      const given = Buffer.from(config.configString);
      ctx.state.edit(
        (state) => {
          const next = setConfigString(state.configString, config.ccmd, given);
          return next ? { ...state, configString: next } : undefined; // else error 4
        },
        (changed) =>
          changed
            ? ctx.reply(port, configFrame(ctx, port, replyTo, config.ccmd))
            : ctx.sendAoeError(header, port, AoeError.configStringPresent),
        () => ctx.sendAoeError(header, port, AoeError.deviceUnavailable),
      );
    }
  }
}

// --- MAC mask list

function maskReply(
  ctx: CommandContext,
  header: AoeHeader,
  port: Port,
  mcmd: number,
  merror: number,
): void {
  const directives = ctx.state.current.macMask.map((mac) => ({ dcmd: DirectiveCommand.none, mac }));
  ctx.reply(
    port,
    encodeMacMask(replyHeader(header, port.mac, ctx.shelf, ctx.slot), {
      mcmd,
      merror,
      directives,
    }),
  );
}

export function handleMacMask(ctx: CommandContext, message: MaskMessage, port: Port): void {
  const { header, mask } = message;
  if (mask.mcmd === MaskCommand.read) return maskReply(ctx, header, port, mask.mcmd, 0);
  // The control plane owns this list: the reply shows it unchanged, with an error.
  if (ctx.settings.accessLocked)
    return maskReply(ctx, header, port, mask.mcmd, MaskError.unspecified);
  if (ctx.state.reservedAgainst(header))
    return ctx.sendAoeError(header, port, AoeError.targetReserved);
  let merror = 0;
  ctx.state.edit(
    (state) => {
      const edited = applyMaskDirectives(state.macMask, mask.directives, MASK_MACS_MAX);
      if ("merror" in edited) {
        merror = edited.merror;
        return undefined;
      }
      return { ...state, macMask: edited.list };
    },
    () => maskReply(ctx, header, port, mask.mcmd, merror),
    () => maskReply(ctx, header, port, mask.mcmd, MaskError.unspecified),
  );
}

// --- reserve/release

export function handleReserve(ctx: CommandContext, message: ReserveMessage, port: Port): void {
  const { header, reserve } = message;
  const answer = () =>
    ctx.reply(
      port,
      encodeReserve(replyHeader(header, port.mac, ctx.shelf, ctx.slot), {
        rcmd: reserve.rcmd,
        macs: ctx.state.current.reservation,
      }),
    );
  if (reserve.rcmd === ReserveCommand.read) return answer();
  if (ctx.settings.accessLocked) return ctx.sendAoeError(header, port, AoeError.badArgument);
  if (reserve.rcmd === ReserveCommand.set && ctx.state.reservedAgainst(header)) {
    return ctx.sendAoeError(header, port, AoeError.targetReserved);
  }
  if (reserve.macs.some((mac) => ((mac[0] as number) & 1) !== 0)) {
    return ctx.sendAoeError(header, port, AoeError.badArgument);
  }
  ctx.state.edit(
    (state) => ({ ...state, reservation: reserve.macs }),
    answer,
    () => ctx.sendAoeError(header, port, AoeError.deviceUnavailable),
  );
}
