/**
 * Tokens of the xl.cfg syntax, after libxlu's flex lexer (tools/libs/util/libxlu_cfg_l.l):
 * keys `[a-z][._0-9a-z]*`, numbers, single- or double-quoted strings on one line, `= += [ ] , ;`,
 * newlines, and `#` comments to the end of the line. The lexer is deliberately wider than libxlu's
 * (capital letters, `(`, `+`, ...) so that the parser can say *why* a line is not xl syntax, for
 * instance that it is Python from an old xm file.
 */
import { xlConfigError, type XlPosition } from "./syntax-error.js";

export type TokenKind =
  | "ident" // a name: a key, or (refused later) a Python variable, keyword or constant
  | "number" // unvalidated digits-first word; the parser checks its base
  | "string"
  | "punct" // = += [ ] , ;
  | "newline" // end of line, including a comment
  | "other" // any other character: refused by the parser with a reason
  | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** The source text (for a string, its decoded value is `value`). */
  readonly text: string;
  /** A string's decoded value. */
  readonly value: string;
  readonly line: number;
  readonly column: number;
  /** Offset just past the token, to tell adjacent tokens (`r"x"`, `"a" "b"`) apart. */
  readonly end: number;
  readonly start: number;
}

/** Single-character escapes libxlu's dequote accepts (xlu__cfgl_dequote, libxlu_cfg.c). */
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  "\\": "\\",
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_.]/;
const NUMBER_PART = /[A-Za-z0-9_.]/;

const STRING_PREFIXES = new Set(["r", "u", "b", "f", "R", "U", "B", "F", "rb", "br", "Rb", "bR"]);

/**
 * Produces tokens one at a time, so that an error late in the file never hides an earlier one (a
 * Python line is reported before a bad escape further down).
 */
export class XlLexer {
  private offset = 0;
  private line = 1;
  private lineStart = 0;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  next(): Token {
    const text = this.text;
    while (this.offset < text.length) {
      const c = text[this.offset] as string;
      const start = this.offset;
      if (c === " " || c === "\t" || c === "\r") {
        // \r: files written on Windows; libxlu would refuse it, but it carries no meaning.
        this.offset++;
        continue;
      }
      if (c === "\n" || c === "#") {
        const newline = text.indexOf("\n", this.offset);
        this.offset = newline === -1 ? text.length : newline + 1;
        // A comment on the last line without a newline is still a comment (libxlu wants the \n).
        const token = this.token("newline", start);
        this.line++;
        this.lineStart = this.offset;
        return token;
      }
      if (c === "\0") throw xlConfigError(this.at(start), "a NUL byte: this is not a text file");
      if (c === '"' || c === "'") {
        const value = this.readString();
        return this.token("string", start, value);
      }
      if (IDENT_START.test(c)) {
        while (this.offset < text.length && IDENT_PART.test(text[this.offset] as string))
          this.offset++;
        const token = this.token("ident", start);
        const after = text[this.offset];
        if ((after === '"' || after === "'") && STRING_PREFIXES.has(token.text)) {
          throw xlConfigError(
            this.at(start),
            `\`${token.text}${after}...${after}\` is a Python string with a prefix, not xl syntax: ` +
              "write a plain quoted string, with \\\\ for each backslash",
            { python: true },
          );
        }
        return token;
      }
      if (c >= "0" && c <= "9") {
        while (this.offset < text.length && NUMBER_PART.test(text[this.offset] as string))
          this.offset++;
        return this.token("number", start);
      }
      if (c === "+" && text[this.offset + 1] === "=") {
        this.offset += 2;
        return this.token("punct", start);
      }
      if ("=[],;".includes(c)) {
        this.offset++;
        return this.token("punct", start);
      }
      // One code point, so that a message never shows half a surrogate pair.
      this.offset += (text.codePointAt(this.offset) ?? 0) > 0xffff ? 2 : 1;
      return this.token("other", start);
    }
    return this.token("eof", this.offset);
  }

  private token(kind: TokenKind, start: number, value = ""): Token {
    return {
      kind,
      text: this.text.slice(start, this.offset),
      value,
      line: this.line,
      column: start - this.lineStart + 1,
      start,
      end: this.offset,
    };
  }

  private at(position: number): XlPosition {
    return { source: this.source, line: this.line, column: position - this.lineStart + 1 };
  }

  /** Reads the quoted string at the current offset, leaving the offset after its closing quote. */
  private readString(): string {
    const text = this.text;
    const start = this.offset;
    const quote = text[start] as string;
    if (text[start + 1] === quote && text[start + 2] === quote) {
      throw xlConfigError(
        this.at(start),
        `a triple-quoted string (${quote.repeat(3)}) is Python, not xl syntax: ` +
          "write the text on one line in single or double quotes, with \\n for line breaks",
        { python: true },
      );
    }
    const { end, value } = readString(text, start, (position) => this.at(position));
    this.offset = end;
    return value;
  }
}

/** Decodes the quoted string whose opening quote is at `offset`. */
function readString(
  text: string,
  offset: number,
  at: (position: number) => XlPosition,
): { end: number; value: string } {
  const start = offset;
  const quote = text[offset] as string;
  let value = "";
  offset++;
  while (true) {
    const c = text[offset];
    if (c === undefined || c === "\n") {
      throw xlConfigError(
        at(start),
        `unterminated string: the ${quote === '"' ? "double" : "single"} quote opened here ` +
          `has no closing ${quote} on the same line (xl strings cannot span lines; use \\n)`,
      );
    }
    if (c === quote) return { end: offset + 1, value };
    if (c === "\\") {
      const next = text[offset + 1];
      if (next === undefined || next === "\n") {
        throw xlConfigError(
          at(offset),
          "a backslash at the end of a line: xl strings cannot continue on the next line",
        );
      }
      const simple = SIMPLE_ESCAPES[next];
      if (simple !== undefined) {
        value += simple;
        offset += 2;
        continue;
      }
      if (next === "x" || (next >= "0" && next <= "7")) {
        // libxlu's dequote parses \xHH and \ooo but never stores the character it computed, and
        // rejects \xHH outright (xlu__cfgl_dequote, NUMERIC_CHAR): xl cannot read them.
        throw xlConfigError(
          at(offset),
          `the numeric escape \\${next}... is not usable: xl's parser drops or rejects it; ` +
            `write the character itself, or one of \\n \\t \\r \\\\ \\' \\"`,
        );
      }
      throw xlConfigError(
        at(offset),
        `invalid escape \\${next} in a quoted string; xl accepts ` +
          `\\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v (write \\\\ for a backslash)`,
      );
    }
    if (c === "\0") throw xlConfigError(at(offset), "a NUL byte inside a string");
    value += c;
    offset++;
  }
}
