/** A BlockDevice wrapper for NBD server tests: delays, fails and counts requests. */
import { EtherplaneError } from "../../../foundation/errors.js";
import type { BlockDevice } from "../../block-device.js";

/** A device wrapper that delays, fails and counts requests (to observe concurrency and FUA). */
export class ProbeDevice implements BlockDevice {
  active = 0;
  activeMax = 0;
  flushes = 0;
  delayMs: (offsetBytes: number) => number = () => 0;
  failReadAt: number | undefined;

  constructor(private readonly inner: BlockDevice) {}
  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  read(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.track(offsetBytes, () => {
      if (offsetBytes === this.failReadAt) throw new EtherplaneError("IO_ERROR", "injected fault");
      return this.inner.read(buffer, offsetBytes);
    });
  }
  write(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.track(offsetBytes, () => this.inner.write(buffer, offsetBytes));
  }
  flush(): Promise<void> {
    this.flushes++;
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private async track(offsetBytes: number, op: () => Promise<void>): Promise<void> {
    this.active++;
    this.activeMax = Math.max(this.activeMax, this.active);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs(offsetBytes)));
      await op();
    } finally {
      this.active--;
    }
  }
}
