/**
 * Non-blocking positional I/O (preadv2/pwritev2 with RWF_NOWAIT, native/nowait_io.c): data the
 * page cache already holds moves at once, on the calling thread; anything that would wait for a
 * disk answers WOULD_BLOCK immediately and the caller uses the thread pool instead.
 */
import { createRequire } from "node:module";

export const WOULD_BLOCK = -1;
export const UNSUPPORTED = -2;

interface NowaitAddon {
  preadv(fd: number, buffers: readonly Buffer[], position: number): number;
  pwritev(fd: number, buffers: readonly Buffer[], position: number): number;
}

function load(): NowaitAddon | undefined {
  if (process.env["ETHERPLANE_NOWAIT_IO"] === "0") return undefined; // to measure without it
  try {
    // Relative to the compiled file, dist/src/block/file/nowait-io.js.
    return createRequire(import.meta.url)(
      "../../../../build/Release/nowait_io.node",
    ) as NowaitAddon;
  } catch {
    return undefined; // not built: every call takes the thread pool, which is correct, only slower
  }
}

export const nowaitIo: NowaitAddon | undefined = load();
