import assert from "node:assert/strict";
import { test } from "node:test";
import { hasPvhEntry } from "./vmlinux.js";

/** A minimal ELF64 LE image with one PT_NOTE segment holding `notes` (name "Xen", given types). */
function elfWithXenNotes(types: readonly number[]): Buffer {
  const notes = types.map((type) => {
    const note = Buffer.alloc(12 + 4 + 8);
    note.writeUInt32LE(4, 0); // namesz: "Xen\0"
    note.writeUInt32LE(8, 4); // descsz
    note.writeUInt32LE(type, 8);
    note.write("Xen\0", 12, "latin1");
    return note;
  });
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // ELFCLASS64
  header[5] = 1; // ELFDATA2LSB
  header.writeBigUInt64LE(64n, 0x20); // e_phoff
  header.writeUInt16LE(56, 0x36); // e_phentsize
  header.writeUInt16LE(1, 0x38); // e_phnum
  const body = Buffer.concat(notes);
  const ph = Buffer.alloc(56);
  ph.writeUInt32LE(4, 0); // PT_NOTE
  ph.writeBigUInt64LE(BigInt(64 + 56), 8); // p_offset
  ph.writeBigUInt64LE(BigInt(body.length), 32); // p_filesz
  return Buffer.concat([header, ph, body]);
}

void test("finds the Xen PHYS32_ENTRY note that allows a PVH boot", () => {
  assert.equal(hasPvhEntry(elfWithXenNotes([6, 18])), true);
  assert.equal(hasPvhEntry(elfWithXenNotes([6, 7])), false);
});

void test("rejects what is not a little-endian ELF64", () => {
  assert.equal(hasPvhEntry(Buffer.from("MZ not an elf at all, just some bytes here......")), false);
  const elf32 = elfWithXenNotes([18]);
  elf32[4] = 1;
  assert.equal(hasPvhEntry(elf32), false);
  // A note segment that runs past the end of the file is cut, not trusted.
  const truncated = elfWithXenNotes([18]).subarray(0, 64 + 56 + 10);
  assert.equal(hasPvhEntry(truncated), false);
});
