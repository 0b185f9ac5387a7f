/**
 * Builds the web UI (web/) into dist/web with esbuild: one minified script, one stylesheet
 * (ours and xterm.js's), index.html. Run by `npm run build` after tsc; prints each file's size
 * and gzipped size, and fails if the bundle outgrows its budget.
 */
import * as esbuild from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { errorMessage } from "../foundation/errors.js";

/** dist/src/web/build-web.js -> the repository. */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const out = path.join(repo, "dist", "web");
/** The budget: gzipped bytes of everything a browser loads. */
const BUNDLE_GZIP_BYTES_MAX = 200 * 1024;

async function main(): Promise<void> {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: { app: path.join(repo, "web/src/main.tsx") },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome110", "firefox110", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    // The API's reply schemas (src/api/replies.ts) are built with @hono/zod-openapi's `z`; the
    // browser gets plain zod's builders instead (browser-zod.ts says why).
    alias: { "@hono/zod-openapi": path.join(repo, "src/web/browser-zod.ts") },
    outdir: out,
    legalComments: "none",
    logLevel: "warning",
  });
  await esbuild.build({
    stdin: {
      contents: `@import "@xterm/xterm/css/xterm.css";\n@import "./web/style.css";\n`,
      resolveDir: repo,
      loader: "css",
    },
    bundle: true,
    minify: true,
    outfile: path.join(out, "app.css"),
    logLevel: "warning",
  });
  fs.copyFileSync(path.join(repo, "web/index.html"), path.join(out, "index.html"));
  let total = 0;
  for (const name of fs.readdirSync(out).sort()) {
    const body = fs.readFileSync(path.join(out, name));
    const gz = gzipSync(body).length;
    total += gz;
    process.stdout.write(
      `web: ${name.padEnd(12)} ${(body.length / 1024).toFixed(1).padStart(7)} KiB, ${(gz / 1024).toFixed(1).padStart(6)} KiB gzipped\n`,
    );
  }
  process.stdout.write(`web: bundle ${(total / 1024).toFixed(1)} KiB gzipped in ${out}\n`);
  if (total > BUNDLE_GZIP_BYTES_MAX)
    throw new Error(`the web bundle is ${total} bytes gzipped, over its ${BUNDLE_GZIP_BYTES_MAX}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`web build failed: ${errorMessage(error)}\n`);
  process.exitCode = 1;
});
