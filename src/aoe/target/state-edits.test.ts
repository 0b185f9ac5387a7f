import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ConfigCommand,
  DirectiveCommand,
  MaskError,
  macToString,
  parseMac,
} from "../codec/index.js";
import { applyMaskDirectives, setConfigString } from "./state-edits.js";

const mac = (text: string) => parseMac(text) as Buffer;
const a = mac("00:16:3e:00:00:01");
const b = mac("00:16:3e:00:00:02");
const names = (result: ReturnType<typeof applyMaskDirectives>) =>
  "list" in result ? result.list.map(macToString) : result;

test("MAC mask: add, add again (no duplicate), delete, and none", () => {
  const added = applyMaskDirectives(
    [],
    [
      { dcmd: DirectiveCommand.add, mac: a },
      { dcmd: DirectiveCommand.add, mac: b },
      { dcmd: DirectiveCommand.add, mac: a },
    ],
    8,
  );
  assert.deepEqual(names(added), ["00:16:3e:00:00:01", "00:16:3e:00:00:02"]);
  const deleted = applyMaskDirectives(
    [a, b],
    [
      { dcmd: DirectiveCommand.delete, mac: a },
      { dcmd: DirectiveCommand.none, mac: b },
    ],
    8,
  );
  assert.deepEqual(names(deleted), ["00:16:3e:00:00:02"]);
});

test("MAC mask: all or none: a bad directive or a full list changes nothing and names the error", () => {
  const list = [a];
  assert.deepEqual(
    applyMaskDirectives(
      list,
      [
        { dcmd: DirectiveCommand.add, mac: b },
        { dcmd: 7, mac: a },
      ],
      8,
    ),
    { merror: MaskError.badDirective },
  );
  assert.deepEqual(
    applyMaskDirectives(list, [{ dcmd: DirectiveCommand.add, mac: mac("01:00:5e:00:00:01") }], 8),
    { merror: MaskError.badDirective },
  );
  assert.deepEqual(applyMaskDirectives(list, [{ dcmd: DirectiveCommand.add, mac: b }], 1), {
    merror: MaskError.listFull,
  });
  assert.deepEqual(
    list.map(macToString),
    ["00:16:3e:00:00:01"],
    "the input list is never modified",
  );
});

test("config string: force set always; set-if-empty only when empty or equal (else error 4)", () => {
  const own = Buffer.from("web");
  assert.equal(
    setConfigString(own, ConfigCommand.forceSet, Buffer.from("mail"))?.toString(),
    "mail",
  );
  assert.equal(setConfigString(own, ConfigCommand.setIfEmpty, Buffer.from("mail")), undefined);
  assert.equal(
    setConfigString(own, ConfigCommand.setIfEmpty, Buffer.from("web"))?.toString(),
    "web",
  );
  assert.equal(
    setConfigString(Buffer.alloc(0), ConfigCommand.setIfEmpty, Buffer.from("x"))?.toString(),
    "x",
  );
});
