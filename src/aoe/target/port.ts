/** Where a request came in (and so where its reply goes), and an export's live settings. */

export interface Port {
  readonly ifname: string;
  readonly mac: Buffer;
  /** Sectors per ATA frame at the interface's current MTU. */
  sectorsMax: number;
  send(frame: Buffer): void;
}

export interface ExportSettings {
  readOnly: boolean;
  durable: boolean;
  /** Requests served at once, advertised in query config. */
  bufferCount: number;
  /** MAC mask and reservation edits over the wire are refused (ExportConfig.accessLocked). */
  accessLocked: boolean;
}
