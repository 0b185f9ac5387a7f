/**
 * The xl.cfg grammar, after libxlu's bison grammar (tools/libs/util/libxlu_cfg_y.y):
 *
 *   file       := { stmt } [ assignment ]
 *   stmt       := [ assignment ] ( NEWLINE | ';' )
 *   assignment := KEY ( '=' | '+=' ) value
 *   value      := STRING | NUMBER | '[' nl* [ value nl* { ',' nl* value nl* } [ ',' nl* ] ] ']'
 *
 * Newlines (and comments) are allowed inside lists only. The last assignment to a key wins;
 * `+=` concatenates to a string or appends to a list (xlu__cfg_set_store, libxlu_cfg.c).
 */
import { xlConfigError } from "./syntax-error.js";
import { describeText } from "./syntax-error.js";
import { XlLexer, type Token } from "./lexer.js";
import {
  constantFix,
  operatorReason,
  pythonError,
  statementKeywordReason,
} from "./python-refusal.js";
import { parseXlNumber } from "./number.js";
import {
  XL_CFG_LIMITS,
  XL_KEY_PATTERN,
  type XlAssignment,
  type XlConfig,
  type XlSetting,
  type XlValue,
} from "./types.js";

/** Parses xl.cfg text (or an xm file made of plain assignments). Throws INVALID_CONFIG. */
export function parseXlConfig(input: string | Buffer, source = "<config>"): XlConfig {
  const bytes = typeof input === "string" ? Buffer.byteLength(input) : input.length;
  if (bytes > XL_CFG_LIMITS.fileBytesMax) {
    throw xlConfigError(
      { source, line: 1, column: 1 },
      `the file is ${bytes} bytes, more than the ${XL_CFG_LIMITS.fileBytesMax} a domain file may have`,
      { bytes },
    );
  }
  const text = typeof input === "string" ? input : input.toString("utf8");
  return new Parser(text, source).file();
}

class Parser {
  private readonly lexer: XlLexer;
  /** One token of lookahead. */
  private readonly buffered: Token[] = [];
  private readonly assignments: XlAssignment[] = [];
  private readonly settings = new Map<string, XlSetting>();

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {
    this.lexer = new XlLexer(text, source);
  }

  file(): XlConfig {
    while (this.peek().kind !== "eof") {
      const token = this.peek();
      if (token.kind === "newline" || token.text === ";") {
        this.next();
        continue;
      }
      const key = this.assignmentKey();
      const op = this.next();
      if (op.text !== "=" && op.text !== "+=") throw this.afterKeyError(key, op);
      const value = this.value(0);
      this.endOfStatement(key);
      this.store({ key: key.text, op: op.text, value, line: key.line, column: key.column });
    }
    return { source: this.source, settings: [...this.settings.values()] };
  }

  private assignmentKey(): Token {
    const token = this.next();
    if (token.kind === "ident") {
      const keyword = statementKeywordReason(token.text);
      const following = this.peek();
      if (keyword !== undefined && following.text !== "=" && following.text !== "+=") {
        throw pythonError(this.text, this.source, token, keyword);
      }
      if (token.text.length > XL_CFG_LIMITS.keyLengthMax) {
        throw this.error(token, `a key longer than ${XL_CFG_LIMITS.keyLengthMax} characters`);
      }
      if (!XL_KEY_PATTERN.test(token.text)) {
        throw this.error(
          token,
          `the key ${describeText(token.text)} is not one xl reads: keys are lowercase letters, ` +
            `digits, \`_\` and \`.\`, starting with a letter (write ${describeText(suggestKey(token.text))})`,
        );
      }
      return token;
    }
    const reason = token.kind === "other" ? operatorReason(token.text) : undefined;
    if (reason !== undefined) throw pythonError(this.text, this.source, token, reason);
    throw this.error(token, `expected a key (KEY = VALUE), found ${this.describe(token)}`);
  }

  private afterKeyError(key: Token, found: Token): Error {
    if (found.text === ",") {
      return pythonError(this.text, this.source, found, "several names assigned at once");
    }
    const reason = found.kind === "other" ? operatorReason(found.text) : undefined;
    if (reason !== undefined || (found.kind === "other" && "-*/%|&^<>!".includes(found.text))) {
      return pythonError(this.text, this.source, found, reason ?? "an operator");
    }
    return this.error(
      found,
      `expected \`=\` or \`+=\` after the key \`${key.text}\`, found ${this.describe(found)}`,
    );
  }

  private value(depth: number): XlValue {
    const token = this.next();
    if (token.kind === "string") {
      const following = this.peek();
      if (following.kind === "string") {
        throw pythonError(this.text, this.source, following, "strings written side by side");
      }
      return token.value;
    }
    if (token.kind === "number") {
      const number = parseXlNumber(token.text);
      if (typeof number === "string") throw this.error(token, number);
      return number;
    }
    if (token.text === "[") return this.list(token, depth + 1);
    throw this.valueError(token);
  }

  private valueError(token: Token): Error {
    if (token.kind === "ident") {
      const following = this.peek();
      if (following.kind === "string" && following.start === token.end) {
        return pythonError(this.text, this.source, token, `a ${token.text}"..." string prefix`);
      }
      if (following.text === "(") {
        return pythonError(this.text, this.source, token, `a call of \`${token.text}\``);
      }
      const fix = constantFix(token.text);
      if (fix !== undefined) {
        return pythonError(this.text, this.source, token, `the constant ${token.text}`, fix);
      }
      return pythonError(
        this.text,
        this.source,
        token,
        `it refers to the variable \`${token.text}\``,
        "write the value itself, as a quoted string, a number or a [list]",
      );
    }
    const reason = token.kind === "other" ? operatorReason(token.text) : undefined;
    if (reason !== undefined) return pythonError(this.text, this.source, token, reason);
    return this.error(
      token,
      `expected a value (a quoted string, a number or a [list]), found ${this.describe(token)}`,
    );
  }

  private list(open: Token, depth: number): XlValue {
    if (depth > XL_CFG_LIMITS.nestingDepthMax) {
      throw this.error(open, `lists nested deeper than ${XL_CFG_LIMITS.nestingDepthMax} levels`);
    }
    const items: XlValue[] = [];
    this.skipNewlines();
    if (this.peek().text === "]") {
      this.next();
      return items;
    }
    while (true) {
      this.expectNotEnd(open);
      items.push(this.value(depth));
      if (items.length > XL_CFG_LIMITS.listItemsMax) {
        throw this.error(open, `a list of more than ${XL_CFG_LIMITS.listItemsMax} items`);
      }
      this.skipNewlines();
      const separator = this.next();
      if (separator.text === "]") return items;
      if (separator.text !== ",") {
        if (separator.kind === "eof") throw this.unterminated(open);
        const reason = separator.kind === "other" ? operatorReason(separator.text) : undefined;
        if (reason !== undefined) throw pythonError(this.text, this.source, separator, reason);
        throw this.error(
          separator,
          `expected \`,\` or \`]\` after a list item, found ${this.describe(separator)}`,
        );
      }
      this.skipNewlines();
      if (this.peek().text === "]") {
        this.next();
        return items; // a trailing comma
      }
    }
  }

  private expectNotEnd(open: Token): void {
    if (this.peek().kind === "eof") throw this.unterminated(open);
  }

  private unterminated(open: Token): Error {
    return this.error(
      open,
      "unterminated list: the `[` opened here has no matching `]` before the end of the file",
    );
  }

  private endOfStatement(key: Token): void {
    const token = this.peek();
    if (token.kind === "newline" || token.kind === "eof" || token.text === ";") return;
    const reason = token.kind === "other" ? operatorReason(token.text) : undefined;
    if (reason !== undefined) throw pythonError(this.text, this.source, token, reason);
    throw this.error(
      token,
      `expected the end of the line (or \`;\`) after the value of \`${key.text}\`, ` +
        `found ${this.describe(token)}`,
    );
  }

  private store(assignment: XlAssignment): void {
    if (this.assignments.length >= XL_CFG_LIMITS.assignmentsMax) {
      throw this.error(
        { line: assignment.line, column: assignment.column },
        `more than ${XL_CFG_LIMITS.assignmentsMax} assignments`,
      );
    }
    this.assignments.push(assignment);
    const previous = this.settings.get(assignment.key);
    const history = [...(previous?.history ?? []), assignment];
    let value = assignment.value;
    if (assignment.op === "+=") {
      if (typeof value === "number" || typeof previous?.value === "number") {
        throw this.error(
          assignment,
          `\`${assignment.key} +=\` on a number: xl cannot use += with numbers; ` +
            `write the whole value with =`,
        );
      }
      if (previous !== undefined) {
        if (typeof previous.value !== typeof value) {
          throw this.error(
            assignment,
            `\`${assignment.key} +=\` adds ${kind(value)} to ${kind(previous.value)} ` +
              `(set on line ${previous.line}); both must be strings or both lists`,
          );
        }
        value =
          typeof value === "string"
            ? (previous.value as string) + value
            : [...(previous.value as readonly XlValue[]), ...value];
      }
    }
    // Re-inserting keeps the key at its first position: Map preserves insertion order.
    this.settings.set(assignment.key, {
      key: assignment.key,
      value,
      line: assignment.line,
      history,
    });
  }

  private skipNewlines(): void {
    while (this.peek().kind === "newline") this.next();
  }

  private peek(): Token {
    if (this.buffered.length === 0) this.buffered.push(this.lexer.next());
    return this.buffered[0] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "eof") this.buffered.shift();
    return token;
  }

  private describe(token: Token): string {
    if (token.kind === "eof") return "the end of the file";
    if (token.kind === "newline")
      return token.text.startsWith("#") ? "a comment" : "the end of the line";
    if (token.kind === "string") return `the string ${describeText(token.text)}`;
    return describeText(token.text);
  }

  private error(at: { line: number; column: number }, message: string): Error {
    return xlConfigError({ source: this.source, line: at.line, column: at.column }, message);
  }
}

function kind(value: XlValue): string {
  return typeof value === "string" ? "a string" : typeof value === "number" ? "a number" : "a list";
}

function suggestKey(key: string): string {
  const lowered = key
    .toLowerCase()
    .replace(/[^._0-9a-z]/g, "_")
    .replace(/^[^a-z]+/, "");
  return lowered === "" ? "name" : lowered;
}
