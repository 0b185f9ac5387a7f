/**
 * AoE command 2: MAC mask list (AoEr11 section 3.3).
 *
 *   24 reserved (1)   25 mcmd (1)   26 merror (1)   27 directive count (1)
 *   28 directives, 8 bytes each: reserved (1), dcmd (1), MAC (6)
 * The reply carries the whole list as directives with dcmd 0.
 */
import {
  AoeCommand,
  ETH_MAC_BYTES,
  allocFrame,
  invalid,
  writeHeader,
  type AoeHeader,
  type HeaderFields,
  type Invalid,
} from "./header.js";

export const MASK_RESERVED = 24;
export const MASK_MCMD = 25;
export const MASK_MERROR = 26;
export const MASK_DIRECTIVE_COUNT = 27;
export const MASK_DIRECTIVES = 28;
export const MASK_HEADER_BYTES = MASK_DIRECTIVES;
export const DIRECTIVE_BYTES = 8;
export const DIRECTIVE_DCMD = 1;
export const DIRECTIVE_MAC = 2;
/** The list's size in one frame: (1500 − 28) / 8 would allow 184; 255 is the count field's limit. */
export const MASK_DIRECTIVES_MAX = 255;

export const MaskCommand = { read: 0, edit: 1 } as const;
export const DirectiveCommand = { none: 0, add: 1, delete: 2 } as const;
export const MaskError = { unspecified: 1, badDirective: 2, listFull: 3 } as const;

export interface MaskDirective {
  dcmd: number;
  mac: Buffer;
}

export interface MaskArgs {
  mcmd: number;
  merror: number;
  directives: MaskDirective[];
}

export interface MaskMessage {
  ok: true;
  command: typeof AoeCommand.macMask;
  header: AoeHeader;
  mask: MaskArgs;
}

export function decodeMacMask(frame: Buffer, header: AoeHeader): MaskMessage | Invalid {
  if (frame.length < MASK_HEADER_BYTES) return invalid("truncated");
  const count = frame[MASK_DIRECTIVE_COUNT] as number;
  if (frame.length - MASK_DIRECTIVES < count * DIRECTIVE_BYTES) return invalid("truncated");
  const mcmd = frame[MASK_MCMD] as number;
  if (mcmd > MaskCommand.edit) return invalid("bad-argument");
  const directives: MaskDirective[] = [];
  for (let i = 0; i < count; i++) {
    const at = MASK_DIRECTIVES + i * DIRECTIVE_BYTES;
    directives.push({
      dcmd: frame[at + DIRECTIVE_DCMD] as number,
      mac: Buffer.from(frame.subarray(at + DIRECTIVE_MAC, at + DIRECTIVE_MAC + ETH_MAC_BYTES)),
    });
  }
  return {
    ok: true,
    command: AoeCommand.macMask,
    header,
    mask: { mcmd, merror: frame[MASK_MERROR] as number, directives },
  };
}

export function encodeMacMask(fields: HeaderFields, mask: MaskArgs): Buffer {
  if (mask.directives.length > MASK_DIRECTIVES_MAX) {
    throw new RangeError(`${mask.directives.length} directives exceed ${MASK_DIRECTIVES_MAX}`);
  }
  const frame = allocFrame(MASK_DIRECTIVES + mask.directives.length * DIRECTIVE_BYTES);
  writeHeader(frame, { ...fields, command: AoeCommand.macMask });
  frame[MASK_MCMD] = mask.mcmd;
  frame[MASK_MERROR] = mask.merror;
  frame[MASK_DIRECTIVE_COUNT] = mask.directives.length;
  mask.directives.forEach((directive, i) => {
    const at = MASK_DIRECTIVES + i * DIRECTIVE_BYTES;
    frame[at + DIRECTIVE_DCMD] = directive.dcmd;
    directive.mac.copy(frame, at + DIRECTIVE_MAC, 0, ETH_MAC_BYTES);
  });
  return frame;
}
