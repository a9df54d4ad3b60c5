// Writes guest/include/buddy86.h from src/protocol/abi.ts (via renderGuestHeader in header.ts).
// Node 20 cannot import .ts files, so esbuild bundles header.ts in memory and we import the bundle
// from a data: URL. Usage: node scripts/gen-header.mjs [--check]  (--check: exit 1 if stale).

import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const bundle = await build({
  entryPoints: [join(root, "src/protocol/header.ts")],
  bundle: true,
  write: false,
  format: "esm",
  platform: "node",
  logLevel: "error",
});
const source = bundle.outputFiles[0].text;
const { renderGuestHeader, HEADER_PATH } = await import(
  "data:text/javascript;base64," + Buffer.from(source).toString("base64")
);

const target = join(root, HEADER_PATH);
const text = renderGuestHeader();
let current = null;
try {
  current = readFileSync(target, "utf8");
} catch {
  // No header yet: it is written below (or reported stale with --check).
}

if (process.argv.includes("--check")) {
  if (current !== text) {
    console.error(`${HEADER_PATH} is stale: run npm run gen:header`);
    process.exit(1);
  }
  console.log(`${HEADER_PATH} is up to date`);
} else if (current === text) {
  console.log(`${HEADER_PATH} unchanged`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${HEADER_PATH}`);
}
