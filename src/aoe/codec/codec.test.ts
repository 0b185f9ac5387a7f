import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { aoeFrameFixtures } from "../../../test/lab/repo.js";
import {
  AFLAG_LBA48,
  AOE_FLAG_RESPONSE,
  AoeCommand,
  AtaCommand,
  AtaErrorBits,
  AtaStatus,
  CFG_STRING_LENGTH,
  ConfigCommand,
  DirectiveCommand,
  MASK_DIRECTIVE_COUNT,
  RES_MAC_COUNT,
  ReserveCommand,
  decodeFrame,
  decodeHeader,
  decodeIdentify,
  effectiveLba,
  encodeAtaFrame,
  encodeConfig,
  encodeIdentify,
  encodeMacMask,
  encodeReserve,
  isInvalid,
  isUnicastMac,
  macToString,
  parseMac,
  sectorsPerFrame,
  validateRequestHeader,
  type AoeMessage,
  type HeaderFields,
} from "./index.js";

const fixtures = aoeFrameFixtures();
function fixture(name: string): Buffer {
  const frame = fixtures.get(name);
  assert.ok(frame, `fixture ${name} exists`);
  return Buffer.from(frame);
}

function decoded(frame: Buffer): AoeMessage {
  const message = decodeFrame(frame);
  assert.ok(!isInvalid(message), `frame decodes (${isInvalid(message) ? message.reason : ""})`);
  return message;
}

const a = parseMac("02:00:00:00:00:0a") as Buffer;
const b = parseMac("02:00:00:00:00:0b") as Buffer;
const fields = (command: number): HeaderFields => ({
  dst: a,
  src: b,
  flags: 0,
  error: 0,
  shelf: 7,
  slot: 3,
  command,
  tag: 0x80000001,
});

describe("real frames captured from vblade and the etherplane initiator", () => {
  test("vblade's query config response: version 1, buffer count, 2 sectors at MTU 1500", () => {
    const m = decoded(fixture("vblade-config-response"));
    assert.equal(m.command, AoeCommand.queryConfig);
    if (m.command !== AoeCommand.queryConfig) return;
    assert.equal(m.header.version, 1);
    assert.ok(m.header.flags & AOE_FLAG_RESPONSE);
    assert.equal(m.header.shelf, 2);
    assert.equal(m.header.slot, 3);
    assert.equal(m.config.bufferCount, 16);
    assert.equal(m.config.sectorCount, 2);
    assert.equal(m.config.configString.length, 0);
  });

  test("vblade's IDENTIFY reply: LBA48 and the 16 MiB capacity of its backing file", () => {
    const m = decoded(fixture("vblade-identify-response"));
    assert.equal(m.command, AoeCommand.ata);
    if (m.command !== AoeCommand.ata) return;
    assert.equal(m.ata.cmdStatus & AtaStatus.err, 0);
    const info = decodeIdentify(m.data);
    assert.ok(info);
    assert.equal(info.lba48, true);
    assert.equal(info.sectors, (16 * 1024 * 1024) / 512);
    // The ATA string byte order matches a peer we did not write.
    assert.equal(info.model, "Coraid EtherDrive vblade");
    assert.equal(info.firmware, "V25");
  });

  test("the initiator's requests: broadcast query config, IDENTIFY, READ/WRITE EXT with data", () => {
    const query = decoded(fixture("initiator-config-broadcast"));
    assert.equal(query.header.shelf, 0xffff);
    assert.equal(query.header.slot, 0xff);
    assert.equal(validateRequestHeader(query.header), undefined);
    const identify = decoded(fixture("initiator-identify"));
    assert.ok(
      identify.command === AoeCommand.ata && identify.ata.cmdStatus === AtaCommand.identifyDevice,
    );
    const write = decoded(fixture("initiator-write-ext-1-sector"));
    assert.ok(write.command === AoeCommand.ata);
    if (write.command !== AoeCommand.ata) return;
    assert.equal(write.ata.cmdStatus, AtaCommand.writeSectorsExt);
    assert.equal(write.ata.sectorCount, 1);
    assert.equal(write.data.subarray(0, 13).toString(), "hello-vblade\n");
  });

  test("vblade aborts FLUSH CACHE EXT: ATA status ERR with ABRT, not the AoE error flag", () => {
    const m = decoded(fixture("vblade-flush-ext-abort"));
    assert.ok(m.command === AoeCommand.ata);
    if (m.command !== AoeCommand.ata) return;
    assert.equal(m.header.error, 0);
    assert.ok(m.ata.cmdStatus & AtaStatus.err);
    assert.ok(m.ata.errFeature & AtaErrorBits.abrt);
  });

  test("every captured frame, cut at every length, decodes or is dropped as truncated, never throws", () => {
    for (const [name, frame] of fixtures) {
      for (let length = 0; length < frame.length; length++) {
        const result = decodeFrame(frame.subarray(0, length));
        if (isInvalid(result))
          assert.ok(
            ["truncated", "not-aoe"].includes(result.reason),
            `${name}@${length}: ${result.reason}`,
          );
      }
    }
  });
});

describe("real frames of the Linux initiator (aoe.ko in a QEMU guest) and of our target", () => {
  test("the kernel's discovery: an unpadded 32-byte broadcast query config, version 1", () => {
    const frame = fixture("linux-config-broadcast");
    assert.equal(frame.length, 32);
    const m = decoded(frame);
    assert.ok(m.command === AoeCommand.queryConfig);
    if (m.command !== AoeCommand.queryConfig) return;
    assert.equal(m.header.shelf, 0xffff);
    assert.equal(m.header.slot, 0xff);
    assert.equal(m.config.ccmd, ConfigCommand.read);
    assert.equal(validateRequestHeader(m.header), undefined);
  });

  test("the kernel's reads and writes are LBA48 EXT commands, 2 sectors at MTU 1500 and 8 at 9000", () => {
    const read = decoded(fixture("linux-read-ext"));
    const write = decoded(fixture("linux-write-ext-2-sectors"));
    const jumbo = decoded(fixture("linux-write-ext-8-sectors-jumbo"));
    for (const [m, command, sectors] of [
      [read, AtaCommand.readSectorsExt, 2],
      [write, AtaCommand.writeSectorsExt, 2],
      [jumbo, AtaCommand.writeSectorsExt, 8],
    ] as const) {
      assert.ok(m.command === AoeCommand.ata);
      if (m.command !== AoeCommand.ata) continue;
      assert.equal(m.ata.cmdStatus, command);
      assert.equal(m.ata.sectorCount, sectors);
      assert.ok(m.ata.aflags & AFLAG_LBA48);
      assert.equal(m.header.tag >>> 31, 0, "kernel tags have the top bit clear");
    }
  });

  test("our announcement, config reply and IDENTIFY reply, as the kernel received them", () => {
    const announce = decoded(fixture("etherplane-announce"));
    assert.ok(announce.command === AoeCommand.queryConfig);
    if (announce.command === AoeCommand.queryConfig) {
      assert.ok(announce.header.dst.equals(Buffer.alloc(6, 0xff)), "broadcast");
      assert.equal(announce.header.version, 1);
      assert.ok(announce.header.flags & AOE_FLAG_RESPONSE);
      assert.equal(announce.config.bufferCount, 64);
      assert.equal(announce.config.sectorCount, 2);
    }
    const identify = decoded(fixture("etherplane-identify-response"));
    assert.ok(identify.command === AoeCommand.ata);
    if (identify.command === AoeCommand.ata) {
      assert.deepEqual(decodeIdentify(identify.data), {
        sectors: 131072,
        lba48: true,
        serial: "EP1-0",
        firmware: "ep-0.1",
        model: "etherplane AoE e1.0",
      });
    }
  });
});

describe("hostile frames", () => {
  test("a config string length beyond the frame is truncated, beyond 1024 is a bad argument", () => {
    const frame = encodeConfig(fields(AoeCommand.queryConfig), {
      bufferCount: 0,
      firmware: 0,
      sectorCount: 0,
      aoeVersion: 1,
      ccmd: ConfigCommand.forceSet,
      configString: Buffer.from("abc"),
    });
    frame.writeUInt16BE(200, CFG_STRING_LENGTH);
    assert.deepEqual(decodeFrame(frame), { ok: false, reason: "truncated" });
    frame.writeUInt16BE(1025, CFG_STRING_LENGTH);
    assert.deepEqual(decodeFrame(frame), { ok: false, reason: "bad-argument" });
  });

  test("a write whose sector count lies about the data it carries is dropped before any byte is read", () => {
    const frame = encodeAtaFrame(
      fields(AoeCommand.ata),
      {
        aflags: AFLAG_LBA48 | 1,
        errFeature: 0,
        sectorCount: 2,
        cmdStatus: AtaCommand.writeSectorsExt,
        lba: 0,
      },
      512,
    );
    assert.deepEqual(decodeFrame(frame), { ok: false, reason: "truncated" });
  });

  test("directive and MAC counts beyond the frame are truncated", () => {
    const mask = encodeMacMask(fields(AoeCommand.macMask), {
      mcmd: 1,
      merror: 0,
      directives: [{ dcmd: DirectiveCommand.add, mac: a }],
    });
    mask[MASK_DIRECTIVE_COUNT] = 40;
    assert.deepEqual(decodeFrame(mask), { ok: false, reason: "truncated" });
    const reserve = encodeReserve(fields(AoeCommand.reserve), {
      rcmd: ReserveCommand.set,
      macs: [a],
    });
    reserve[RES_MAC_COUNT] = 200;
    assert.deepEqual(decodeFrame(reserve), { ok: false, reason: "truncated" });
  });

  test("wrong version, response flag, multicast or zero source are refused by validation", () => {
    const frame = fixture("initiator-identify");
    const header = () => {
      const h = decodeHeader(frame);
      assert.ok(!isInvalid(h));
      return h;
    };
    frame[14] = (2 << 4) | ((frame[14] as number) & 0x0f);
    assert.deepEqual(validateRequestHeader(header()), { ok: false, reason: "bad-version" });
    frame[14] = (1 << 4) | AOE_FLAG_RESPONSE;
    assert.deepEqual(validateRequestHeader(header()), { ok: false, reason: "response" });
    frame[14] = 1 << 4;
    frame[6] = 0x01;
    assert.deepEqual(validateRequestHeader(header()), { ok: false, reason: "bad-source" });
    frame.fill(0, 6, 12);
    assert.deepEqual(validateRequestHeader(header()), { ok: false, reason: "bad-source" });
  });

  test("reserved bits set change nothing the codec decodes, but validation refuses the flags", () => {
    const frame = fixture("initiator-read-ext");
    const clean = decoded(Buffer.from(frame));
    frame[14] = (frame[14] as number) | 0x03; // reserved flag bits
    frame.writeUInt16BE(0xffff, 34); // ATA reserved field
    const dirty = decoded(frame);
    assert.ok(clean.command === AoeCommand.ata && dirty.command === AoeCommand.ata);
    if (clean.command !== AoeCommand.ata || dirty.command !== AoeCommand.ata) return;
    assert.deepEqual(dirty.ata, clean.ata);
    assert.equal(validateRequestHeader(clean.header), undefined);
    // Issue 13: a request with reserved flag bits, the E flag or an error byte is refused.
    assert.deepEqual(validateRequestHeader(dirty.header), { ok: false, reason: "bad-flags" });
    frame[14] = 0x10 | 0x04; // version 1, E flag
    assert.deepEqual(validateRequestHeader(decoded(frame).header), {
      ok: false,
      reason: "bad-flags",
    });
    frame[14] = 0x10;
    frame[15] = 1; // error byte
    assert.deepEqual(validateRequestHeader(decoded(frame).header), {
      ok: false,
      reason: "bad-flags",
    });
    frame[15] = 0;
    assert.equal(validateRequestHeader(decoded(frame).header), undefined);
  });

  test("unknown commands and other ethertypes are named", () => {
    const frame = fixture("initiator-identify");
    frame[19] = 9;
    assert.deepEqual(decodeFrame(frame), { ok: false, reason: "unknown-command" });
    frame.writeUInt16BE(0x0800, 12);
    assert.deepEqual(decodeFrame(frame), { ok: false, reason: "not-aoe" });
  });
});

describe("encoders round-trip", () => {
  test("ATA LBA28 masks the 0xE0 the kernel puts in byte 3; LBA48 keeps all 48 bits", () => {
    const lba28 = decoded(
      encodeAtaFrame(fields(AoeCommand.ata), {
        aflags: 0,
        errFeature: 0,
        sectorCount: 1,
        cmdStatus: AtaCommand.readSectors,
        lba: 0xe0123456,
      }),
    );
    assert.ok(lba28.command === AoeCommand.ata);
    if (lba28.command === AoeCommand.ata) assert.equal(effectiveLba(lba28.ata), 0x0123456);
    const lba48 = decoded(
      encodeAtaFrame(fields(AoeCommand.ata), {
        aflags: AFLAG_LBA48,
        errFeature: 0,
        sectorCount: 1,
        cmdStatus: AtaCommand.readSectorsExt,
        lba: 0xabcdef012345,
      }),
    );
    assert.ok(lba48.command === AoeCommand.ata);
    if (lba48.command === AoeCommand.ata) assert.equal(effectiveLba(lba48.ata), 0xabcdef012345);
  });

  test("config, MAC mask and reserve messages keep every field", () => {
    const config = decoded(
      encodeConfig(fields(AoeCommand.queryConfig), {
        bufferCount: 64,
        firmware: 0x100,
        sectorCount: 17,
        aoeVersion: 1,
        ccmd: ConfigCommand.testPrefix,
        configString: Buffer.from("vm=web"),
      }),
    );
    assert.ok(config.command === AoeCommand.queryConfig);
    if (config.command === AoeCommand.queryConfig) {
      assert.equal(config.config.bufferCount, 64);
      assert.equal(config.config.sectorCount, 17);
      assert.equal(config.config.ccmd, ConfigCommand.testPrefix);
      assert.equal(config.config.configString.toString(), "vm=web");
      assert.equal(config.header.tag, 0x80000001);
    }
    const mask = decoded(
      encodeMacMask(fields(AoeCommand.macMask), {
        mcmd: 1,
        merror: 0,
        directives: [
          { dcmd: DirectiveCommand.add, mac: a },
          { dcmd: DirectiveCommand.delete, mac: b },
        ],
      }),
    );
    assert.ok(mask.command === AoeCommand.macMask);
    if (mask.command === AoeCommand.macMask) {
      assert.deepEqual(
        mask.mask.directives.map((d) => [d.dcmd, macToString(d.mac)]),
        [
          [1, "02:00:00:00:00:0a"],
          [2, "02:00:00:00:00:0b"],
        ],
      );
    }
    const reserve = decoded(
      encodeReserve(fields(AoeCommand.reserve), { rcmd: ReserveCommand.forceSet, macs: [b] }),
    );
    assert.ok(reserve.command === AoeCommand.reserve);
    if (reserve.command === AoeCommand.reserve)
      assert.deepEqual(reserve.reserve.macs.map(macToString), ["02:00:00:00:00:0b"]);
  });

  test("replies are padded to the 60-byte Ethernet minimum with zeros", () => {
    const frame = encodeReserve(fields(AoeCommand.reserve), { rcmd: 0, macs: [] });
    assert.equal(frame.length, 60);
    assert.ok(frame.subarray(26).every((byte) => byte === 0));
  });

  test("IDENTIFY: capacity above 2^32 sectors, strings byte-swapped per word", () => {
    const block = encodeIdentify({
      sectors: 2 ** 33 + 5,
      lba48: true,
      serial: "SER1",
      firmware: "fw",
      model: "etherplane AoE e1.0",
    });
    assert.equal(block.subarray(54, 58).toString("latin1"), "teeh"); // words 27-28 hold "et", "he", each swapped
    const info = decodeIdentify(block);
    assert.deepEqual(info, {
      sectors: 2 ** 33 + 5,
      lba48: true,
      serial: "SER1",
      firmware: "fw",
      model: "etherplane AoE e1.0",
    });
  });

  test("sectors per frame follow the MTU: 2 at 1500, 17 at 9000", () => {
    assert.equal(sectorsPerFrame(1500), 2);
    assert.equal(sectorsPerFrame(9000), 17);
    assert.equal(sectorsPerFrame(576), 1);
  });

  test("MAC parsing accepts colons, dashes and bare hex; unicast check", () => {
    assert.equal(macToString(parseMac("00-16-3E-00-00-13") as Buffer), "00:16:3e:00:00:13");
    assert.equal(macToString(parseMac("00163e000013") as Buffer), "00:16:3e:00:00:13");
    assert.equal(parseMac("00:16:3e:00:00"), undefined);
    assert.equal(parseMac("00:16:3e:00-00:13"), undefined);
    assert.equal(isUnicastMac(parseMac("01:00:5e:00:00:01") as Buffer), false);
    assert.equal(isUnicastMac(parseMac("00:16:3e:00:00:13") as Buffer), true);
  });
});
