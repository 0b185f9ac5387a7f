/**
 * The web UI's built files (dist/web, made by `npm run build`), read once into memory when the
 * controller starts: a few small files, so no path from a request ever reaches the file system.
 * Bounded: file count and total bytes.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { EtherplaneError } from "../foundation/errors.js";

export const ASSET_FILES_MAX = 64;
export const ASSET_BYTES_MAX = 16 * 1024 * 1024;

/** dist/web beside dist/src (this file is dist/src/web/static-assets.js once built). */
export const ASSETS_DIR_DEFAULT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../web",
);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface StaticAssets {
  /** The asset served at a URL path ("/" is index.html), or undefined. */
  lookup(urlPath: string): Asset | undefined;
  /** Why there is no UI (not built), or null when there is one. */
  missing: string | null;
}

export function loadStaticAssets(dir: string = ASSETS_DIR_DEFAULT): StaticAssets {
  const assets = new Map<string, Asset>();
  if (!fs.existsSync(path.join(dir, "index.html")))
    return {
      lookup: () => undefined,
      missing: `the web UI is not built (no ${dir}/index.html): run npm run build`,
    };
  let total = 0;
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type || !fs.statSync(path.join(dir, name)).isFile()) continue;
    const body = fs.readFileSync(path.join(dir, name));
    total += body.length;
    if (assets.size >= ASSET_FILES_MAX || total > ASSET_BYTES_MAX)
      throw new EtherplaneError(
        "INVALID_CONFIG",
        `${dir} holds more than ${ASSET_FILES_MAX} files or ${ASSET_BYTES_MAX} bytes: is it the web UI's build?`,
      );
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(`/${name}`, { body, type, etag });
  }
  return {
    lookup: (urlPath) => assets.get(urlPath === "/" ? "/index.html" : urlPath),
    missing: null,
  };
}
