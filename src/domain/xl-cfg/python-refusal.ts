/**
 * Old xm domain files were Python programs run by xend. Those made only of plain assignments are
 * xl syntax too; anything else (imports, blocks, calls, arithmetic, variables) xl cannot read
 * either ("Arbitrary Python is no longer supported", libxlu_cfg.c). We refuse it with the line
 * and the reason, so the administrator knows what to rewrite.
 */
import type { EtherplaneError } from "../../foundation/errors.js";
import { xlConfigError } from "./syntax-error.js";
import type { Token } from "./lexer.js";

const STATEMENT_KEYWORDS: Readonly<Record<string, string>> = {
  import: "an import",
  from: "an import",
  def: "a function definition",
  class: "a class definition",
  if: "an if statement",
  elif: "an if statement",
  else: "an if statement",
  for: "a for loop",
  while: "a while loop",
  try: "a try block",
  except: "a try block",
  finally: "a try block",
  with: "a with block",
  return: "a return statement",
  print: "a print statement",
  pass: "a pass statement",
  del: "a del statement",
  global: "a global statement",
  assert: "an assert statement",
  raise: "a raise statement",
  exec: "an exec statement",
  lambda: "a lambda",
};

const CONSTANTS: Readonly<Record<string, string>> = {
  True: "write 1",
  False: "write 0",
  None: "leave the key out",
};

const OPERATORS: Readonly<Record<string, string>> = {
  "+": "arithmetic or string concatenation",
  "-": "arithmetic",
  "*": "arithmetic",
  "/": "arithmetic",
  "%": "string formatting with %",
  "(": "a call or a parenthesised expression",
  ".": "a method call",
  ":": "a block or a slice",
  "{": "a dictionary",
  "\\": "a line continuation",
};

export function statementKeywordReason(word: string): string | undefined {
  return STATEMENT_KEYWORDS[word];
}

export function constantFix(word: string): string | undefined {
  return CONSTANTS[word];
}

export function operatorReason(text: string): string | undefined {
  return OPERATORS[text];
}

/**
 * `FILE: line 3, column 1: \`import os\` is Python code (an import), not a plain assignment; xl
 * cannot read it either: rewrite it as KEY = VALUE`.
 */
export function pythonError(
  fileText: string,
  source: string,
  token: Token,
  reason: string,
  fix = "rewrite it as KEY = VALUE",
): EtherplaneError {
  const lineText = sourceLine(fileText, token.start).trim();
  const shown = lineText.length > 60 ? `${lineText.slice(0, 60)}...` : lineText;
  return xlConfigError(
    { source, line: token.line, column: token.column },
    `\`${shown}\` is Python code (${reason}), not a plain assignment; ` +
      `xl cannot read it either: ${fix}`,
    { python: true },
  );
}

function sourceLine(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  const end = text.indexOf("\n", offset);
  return text.slice(start, end === -1 ? text.length : end);
}
