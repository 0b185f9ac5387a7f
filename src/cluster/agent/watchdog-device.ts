/**
 * Opens a watchdog device (the I/O edge of watchdog.ts). Opening /dev/watchdog arms it at once,
 * so it is opened only when the agent runs and feeds it. The path must exist: a typo must not
 * create a regular file that nothing watches. O_NONBLOCK so that a FIFO standing in for the
 * device in tests fails at once (ENXIO) rather than blocking the agent until a reader comes.
 */
import * as fs from "node:fs";
import { EtherplaneError } from "../../foundation/errors.js";
import type { WatchdogDevice } from "./watchdog.js";

export const WATCHDOG_HOW =
  "load a watchdog driver (e.g. modprobe softdog soft_margin=60, a margin above the lease's dead timeout) or leave out --watchdog";

/** Checks that `file` exists and can be opened for writing, without opening it (no arming). */
export function checkWatchdogPath(file: string): void {
  try {
    fs.accessSync(file, fs.constants.W_OK);
  } catch (error) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `--watchdog ${file}: no writable device there: ${WATCHDOG_HOW}`,
      {
        cause: error,
      },
    );
  }
}

export function openWatchdogDevice(file: string): WatchdogDevice {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `cannot open the watchdog ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}; another process may hold it): ${WATCHDOG_HOW}`,
      { cause: error },
    );
  }
  return {
    write: (data) => void fs.writeSync(fd, data),
    close: () => fs.closeSync(fd),
  };
}
