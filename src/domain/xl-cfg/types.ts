/**
 * The data model of an xl.cfg file (xl.cfg(5)). libxlu keeps every atom as a string and converts
 * numbers on use (strtol base 0, tools/libs/util/libxlu_cfg.c); we convert unquoted numbers when
 * parsing, so a value is a string, a whole number or a (possibly nested) list of values.
 */
export type XlValue = string | number | XlList;
export type XlList = readonly XlValue[];

/** `KEY = VALUE` replaces; `KEY += VALUE` concatenates strings or appends lists (xl.cfg(5)). */
export type XlOperator = "=" | "+=";

/** One assignment as written in the file, kept for error messages and history. */
export interface XlAssignment {
  readonly key: string;
  readonly op: XlOperator;
  /** The value as written on this line (before `+=` is applied). */
  readonly value: XlValue;
  readonly line: number;
  readonly column: number;
}

/** A key's effective value: the last assignment wins, `+=` applied to what came before. */
export interface XlSetting {
  readonly key: string;
  readonly value: XlValue;
  /** Line of the assignment that produced the effective value. */
  readonly line: number;
  /** Every assignment to this key, in file order. */
  readonly history: readonly XlAssignment[];
}

/** A parsed file: its settings in order of first appearance. */
export interface XlConfig {
  /** File name used in error messages. */
  readonly source: string;
  readonly settings: readonly XlSetting[];
}

/** Bounds on untrusted input (STYLE.md habit 5). Real domain files are a few kilobytes. */
export const XL_CFG_LIMITS = {
  fileBytesMax: 1024 * 1024,
  nestingDepthMax: 16,
  assignmentsMax: 10_000,
  listItemsMax: 10_000,
  keyLengthMax: 256,
  /** A disk or vif spec string. */
  specBytesMax: 4096,
} as const;

/** Keys as libxlu's lexer accepts them: `[a-z][._0-9a-z]*` (libxlu_cfg_l.l). */
export const XL_KEY_PATTERN = /^[a-z][._0-9a-z]*$/;

export function findSetting(config: XlConfig, key: string): XlSetting | undefined {
  return config.settings.find((setting) => setting.key === key);
}

/** `key -> value` in file order, for comparing two parses. */
export function settingEntries(config: XlConfig): Array<[string, XlValue]> {
  return config.settings.map((setting) => [setting.key, setting.value]);
}
