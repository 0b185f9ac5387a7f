/**
 * Groups the reads and writes of one received batch into runs of adjacent sectors, so each run
 * is one preadv/pwritev: a sequential stream of 1 KiB frames then costs one system call per batch
 * instead of one per frame. Pure: the export does the I/O.
 */
export interface Extent {
  write: boolean;
  /** Byte offset on the device. */
  offset: number;
  data: Buffer;
}

/**
 * Sorts `items` by offset (stable: duplicates keep their arrival order) and cuts them into runs
 * where each item starts where the previous one ends, with the same direction, at most
 * `maxPerRun` items long. Overlapping or repeated extents (retransmissions) land in separate runs.
 */
export function adjacentRuns<T extends Extent>(items: T[], maxPerRun: number): T[][] {
  if (items.length > 1) items.sort((a, b) => a.offset - b.offset);
  const runs: T[][] = [];
  let first = 0;
  while (first < items.length) {
    const head = items[first] as T;
    let end = head.offset + head.data.length;
    let last = first + 1;
    while (last < items.length && last - first < maxPerRun) {
      const next = items[last] as T;
      if (next.write !== head.write || next.offset !== end) break;
      end += next.data.length;
      last++;
    }
    runs.push(items.slice(first, last));
    first = last;
  }
  return runs;
}
