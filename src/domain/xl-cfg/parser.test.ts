/** Broken and hostile inputs: each gives INVALID_CONFIG with its line and column, never a crash. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseXlConfig } from "./parser.js";
import { findSetting, settingEntries, XL_CFG_LIMITS } from "./types.js";

function refused(text: string | Buffer, line: number, column: number, says: string | RegExp): void {
  assert.throws(
    () => parseXlConfig(text, "bad.cfg"),
    (error: unknown) => {
      assert.ok(isEtherplaneError(error, "INVALID_CONFIG"), String(error));
      assert.equal(error.params.line, line, error.message);
      assert.equal(error.params.column, column, error.message);
      assert.ok(
        error.message.startsWith(`bad.cfg: line ${line}, column ${column}: `),
        error.message,
      );
      if (typeof says === "string") assert.ok(error.message.includes(says), error.message);
      else assert.match(error.message, says);
      return true;
    },
  );
}

describe("parseXlConfig: syntax", () => {
  test("an empty file, or one of comments, has no settings", () => {
    assert.deepEqual(parseXlConfig("").settings, []);
    assert.deepEqual(parseXlConfig("# nothing\n\n  # here\n").settings, []);
  });

  test("a Buffer reads as UTF-8", () => {
    const config = parseXlConfig(Buffer.from('name = "café"\n'), "b.cfg");
    assert.deepEqual(settingEntries(config), [["name", "café"]]);
    assert.equal(config.source, "b.cfg");
  });

  test("the history keeps every assignment with its operator and position", () => {
    const config = parseXlConfig('extra = "a"\n  extra += "b"\nextra = "c"\n');
    const setting = findSetting(config, "extra");
    assert.equal(setting?.value, "c");
    assert.deepEqual(
      setting?.history.map(({ op, value, line, column }) => [op, value, line, column]),
      [
        ["=", "a", 1, 1],
        ["+=", "b", 2, 3],
        ["=", "c", 3, 1],
      ],
    );
  });

  test("Windows line ends are accepted", () => {
    assert.deepEqual(settingEntries(parseXlConfig('a = 1\r\nb = "x"\r\n')), [
      ["a", 1],
      ["b", "x"],
    ]);
  });
});

describe("parseXlConfig: broken input", () => {
  test("unterminated strings", () => {
    refused('name = "noc.grid\nmemory = 1\n', 1, 8, "unterminated string");
    refused("a = 1\nname = 'noc", 2, 8, "no closing '");
  });

  test("unterminated lists point at their [", () => {
    refused("disk = [ 'a',\n  'b'\n", 1, 8, "unterminated list");
    refused("disk = [ [ 'a' ]", 1, 8, "unterminated list");
    refused("disk = [", 1, 8, "unterminated list");
  });

  test("bad escapes", () => {
    refused('a = "x\\qy"', 1, 7, "invalid escape \\q");
    refused('a = "\\x41"', 1, 6, "numeric escape");
    refused('a = "\\101"', 1, 6, "numeric escape");
    refused('a = "abc\\\n"', 1, 9, "backslash at the end of a line");
  });

  test("missing or misplaced pieces", () => {
    refused("= 1", 1, 1, "expected a key");
    refused("name 1", 1, 6, "expected `=` or `+=` after the key `name`");
    refused("name =\n", 1, 7, "expected a value");
    refused("name =", 1, 7, "found the end of the file");
    refused('name = "a" memory = 1', 1, 12, "expected the end of the line");
    refused("disk = [ 'a' 'b' ]", 1, 14, "side by side");
    refused("disk = [ 'a' ; 'b' ]", 1, 14, "expected `,` or `]`");
    refused("disk = [ , ]", 1, 10, "expected a value");
    refused("disk = [ 'a',, ]", 1, 14, "expected a value");
    refused("a = ]", 1, 5, "expected a value");
    refused("a = 1 # ok\n]", 2, 1, "expected a key");
  });

  test("keys xl cannot read", () => {
    refused('Name = "x"', 1, 1, "write `name`");
    refused('_name = "x"', 1, 1, "lowercase letters");
    refused(`${"k".repeat(XL_CFG_LIMITS.keyLengthMax + 1)} = 1`, 1, 1, "longer than");
  });

  test("numbers xl cannot read", () => {
    refused("memory = 256M", 1, 10, 'quote it if it is text ("256M")');
    refused("memory = 08", 1, 10, "octal");
    refused("memory = 0x", 1, 10, "not a number");
    refused("weight = 1.5", 1, 10, "not a whole number");
    refused("memory = 99999999999999999999", 1, 10, "larger than");
    refused("memory = -1", 1, 10, "Python code (arithmetic)");
  });

  test("+= needs two strings or two lists", () => {
    refused('a = "x"\na += [ "y" ]', 2, 1, "adds a list to a string (set on line 1)");
    refused('a = [ "x" ]\na += "y"', 2, 1, "adds a string to a list");
    refused("memory = 1\nmemory += 1", 2, 1, "xl cannot use += with numbers");
  });

  test("garbage and binary data", () => {
    refused("name = \u0001", 1, 8, "\\x01");
    refused("\u00ff\u00fe = 1", 1, 1, "expected a key");
    refused("a = 1\n\0\0\0", 2, 1, "NUL byte");
    refused("a = 'x\0y'", 1, 7, "NUL byte");
    refused("💥 = 1", 1, 1, "`💥`");
    refused("a = @", 1, 5, "expected a value");
  });

  test("random bytes never crash the parser: they parse or throw INVALID_CONFIG", () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = "ab01x=+[],;#'\"\\ \n\t()%.-*:{}\u0000é";
    for (let round = 0; round < 2000; round++) {
      let text = "";
      const length = Math.floor(random() * 60);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      try {
        parseXlConfig(text);
      } catch (error) {
        assert.ok(
          isEtherplaneError(error, "INVALID_CONFIG"),
          `${JSON.stringify(text)}: ${String(error)}`,
        );
      }
    }
  });
});

describe("parseXlConfig: bounds", () => {
  test("a file over the size limit is refused before it is read", () => {
    const big = "#".repeat(XL_CFG_LIMITS.fileBytesMax + 1);
    refused(big, 1, 1, "more than the");
    refused(Buffer.alloc(XL_CFG_LIMITS.fileBytesMax + 1, 0x20), 1, 1, "more than the");
  });

  test("lists nested too deep are refused at the [ that goes too far", () => {
    const depth = XL_CFG_LIMITS.nestingDepthMax;
    const ok = `a = ${"[".repeat(depth)}${"]".repeat(depth)}`;
    assert.equal(parseXlConfig(ok).settings.length, 1);
    refused(`a = ${"[".repeat(100_000)}`, 1, 5 + depth, "nested deeper");
  });

  test("too many assignments and list items", () => {
    const many = "a = 1\n".repeat(XL_CFG_LIMITS.assignmentsMax + 1);
    refused(many, XL_CFG_LIMITS.assignmentsMax + 1, 1, "assignments");
    const items = `a = [ ${"1,".repeat(XL_CFG_LIMITS.listItemsMax + 1)} ]`;
    refused(items, 1, 5, "more than");
  });

  test("a large valid file parses quickly", () => {
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++)
      lines.push(`key${i} = [ "value ${i}", ${i}, 0x${i.toString(16)} ]`);
    const started = performance.now();
    const config = parseXlConfig(lines.join("\n"));
    assert.equal(config.settings.length, 5000);
    assert.ok(performance.now() - started < 2000);
  });
});
