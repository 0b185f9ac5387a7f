import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseXlConfig } from "./parser.js";
import { settingEntries, type XlValue } from "./types.js";
import { quoteXlString, writeXlConfig, writeXlValue } from "./writer.js";

const reread = (value: XlValue): XlValue => {
  const [entry] = settingEntries(parseXlConfig(`v = ${writeXlValue(value)}\n`));
  return entry?.[1] as XlValue;
};

describe("writeXlConfig", () => {
  test("strings are quoted with the escapes libxlu reads", () => {
    assert.equal(quoteXlString("plain"), '"plain"');
    assert.equal(quoteXlString('say "hi"'), `'say "hi"'`);
    assert.equal(quoteXlString(`it's "x"`), `"it's \\"x\\""`);
    assert.equal(quoteXlString("a\\b\nc\td"), '"a\\\\b\\nc\\td"');
    assert.equal(quoteXlString("# not a comment"), '"# not a comment"');
  });

  test("any string without NUL survives a write and a read", () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 500; round++) {
      let text = "";
      for (let i = 0; i < 20; i++) text += String.fromCharCode(1 + Math.floor(random() * 0x17f));
      assert.equal(reread(text), text, JSON.stringify(text));
    }
  });

  test("numbers in decimal, lists short on one line and long one per line", () => {
    assert.equal(writeXlValue(0x1f), "31");
    assert.equal(writeXlValue([]), "[]");
    assert.equal(writeXlValue(["a", 1, ["b"]]), '[ "a", 1, [ "b" ] ]');
    const long = [
      "phy:/dev/etherd/e1.0,xvda,w",
      "phy:/dev/etherd/e1.1,xvdb,w",
      "phy:/dev/etherd/e1.2,xvdc,w",
    ];
    assert.equal(writeXlValue(long), `[\n${long.map((item) => `    "${item}",\n`).join("")}]`);
    const nested = [long, ["x"]];
    assert.deepEqual(reread(nested), nested);
  });

  test("a config is one line per setting, in order", () => {
    assert.equal(
      writeXlConfig({
        settings: [
          { key: "name", value: "a" },
          { key: "memory", value: 256 },
        ],
      }),
      'name = "a"\nmemory = 256\n',
    );
  });

  test("what xl cannot read is refused, not written", () => {
    const refused = (write: () => unknown): void =>
      assert.throws(write, (error: unknown) => isEtherplaneError(error, "INVALID_ARGUMENT"));
    refused(() => writeXlValue(-1));
    refused(() => writeXlValue(1.5));
    refused(() => writeXlValue("a\0b"));
    refused(() => writeXlConfig({ settings: [{ key: "Bad Key", value: 1 }] }));
    let deep: XlValue = [];
    for (let i = 0; i < 40; i++) deep = [deep];
    refused(() => writeXlValue(deep));
  });
});
