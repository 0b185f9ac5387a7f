/** Test data shared by the AoE lab (real sockets) and the simulator. */

/** Deterministic bytes that differ at every sector and between seeds. */
export function pattern(bytes: number, seed: number): Buffer {
  const buffer = Buffer.alloc(bytes);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (i + 4 <= bytes) buffer.writeUInt32LE(x, i);
    else for (let j = i; j < bytes; j++) buffer[j] = x & 0xff;
  }
  return buffer;
}
