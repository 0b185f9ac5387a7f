/**
 * The rules for changing an export's persisted state from the wire (AoEr11 3.2 and 3.3), as pure
 * functions: the export computes the new state with these, saves it, and only then answers.
 */
import { ConfigCommand, DirectiveCommand, MaskError, type MaskDirective } from "../codec/index.js";

/**
 * Applies MAC mask directives all or none: a bad directive or a full list leaves the list as it
 * was and names the error for the reply (merror).
 */
export function applyMaskDirectives(
  list: readonly Buffer[],
  directives: readonly MaskDirective[],
  capacity: number,
): { list: Buffer[] } | { merror: number } {
  const next = [...list];
  for (const directive of directives) {
    const at = next.findIndex((mac) => mac.equals(directive.mac));
    switch (directive.dcmd) {
      case DirectiveCommand.none:
        continue;
      case DirectiveCommand.add:
        if (at >= 0) continue;
        if (((directive.mac[0] as number) & 1) !== 0) return { merror: MaskError.badDirective };
        if (next.length >= capacity) return { merror: MaskError.listFull };
        next.push(directive.mac);
        continue;
      case DirectiveCommand.delete:
        if (at >= 0) next.splice(at, 1);
        continue;
      default:
        return { merror: MaskError.badDirective };
    }
  }
  return { list: next };
}

/**
 * The config string after a set command: force set always takes `given`; set-if-empty takes it
 * when the string is empty or already equal, and otherwise returns undefined (error 4).
 */
export function setConfigString(own: Buffer, ccmd: number, given: Buffer): Buffer | undefined {
  if (ccmd === ConfigCommand.setIfEmpty && own.length > 0 && !own.equals(given)) return undefined;
  return Buffer.from(given);
}
