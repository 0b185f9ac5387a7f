/**
 * A hardware or software watchdog (Linux's /dev/watchdog, e.g. softdog) fed by the agent's lease:
 * one keepalive write after each lease renewal that succeeded, so a hung agent, a hung host or an
 * agent cut off from its controller stops feeding it and the kernel reboots the host when its
 * margin passes. A clean stop writes the magic close character 'V' before closing, so the kernel
 * disarms it and the host does not reboot (Documentation/watchdog/watchdog-api.rst, "Magic
 * Close"; drivers/watchdog/watchdog_dev.c watchdog_write sets WDOG_ALLOW_RELEASE on a 'V' and
 * clears it on every write, so a keepalive must not hold a 'V'). An agent killed without a clean
 * stop closes the device without the 'V': the watchdog stays armed and the host reboots.
 */
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";

/** The device, opened (watchdog-device.ts; a regular file or FIFO stands in for it in tests). */
export interface WatchdogDevice {
  write(data: Buffer): void;
  close(): void;
}

/** Any byte but 'V' feeds the watchdog (watchdog-api.rst). */
export const WATCHDOG_KEEPALIVE = Buffer.from(".");
export const WATCHDOG_MAGIC_CLOSE = Buffer.from("V");

export class Watchdog {
  private closed = false;
  private failing = false;

  constructor(
    private readonly device: WatchdogDevice,
    private readonly log: Logger,
  ) {}

  /** One keepalive (after a successful lease renewal). */
  feed(): void {
    if (this.closed) return;
    try {
      this.device.write(WATCHDOG_KEEPALIVE);
      if (this.failing) this.log.info("watchdog: fed again");
      this.failing = false;
    } catch (error) {
      // Not fatal by itself: if writes keep failing the kernel reboots the host, which is the
      // watchdog's job; say so once, not once a second.
      if (!this.failing)
        this.log.error(
          `watchdog: a keepalive failed (${errorMessage(error)}); the host reboots if it is not fed`,
        );
      this.failing = true;
    }
  }

  /** A clean stop: the magic close, then close (the kernel disarms the watchdog). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.device.write(WATCHDOG_MAGIC_CLOSE);
    } catch (error) {
      this.log.error(
        `watchdog: the magic close failed (${errorMessage(error)}): the host may reboot`,
      );
    }
    this.device.close();
  }
}
