// Builds the web page (docs/web.md) into one self-contained static folder: index.html and style.css
// from web/, page.js and worker.js bundled by esbuild from src/web/ (the worker runs the guest with
// the same machine and allocator modules as the CLI), v86.wasm from the installed v86 package and
// the bundled kernel images. Nothing is fetched from anywhere else: the folder works offline and
// can be hosted anywhere.
//
// Used by `npm run build` (into dist/web/), `npm run web` (scripts/serve-web.mjs) and the web tests.

import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The kernel images the page offers (served from images/ next to the page). */
export const WEB_KERNELS = ["buddy86-guest.elf", "minimal-kernel.elf"];

/**
 * Builds the site into `outdir` (emptied first). Throws when one of our modules in the page's
 * import graph uses a Node API (the page must run in any browser). Returns the files written with
 * their sizes in bytes.
 */
export async function buildWeb({ outdir = join(ROOT, "dist/web"), minify = true, sourcemap = true } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(join(outdir, "images"), { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { page: "src/web/page.ts", worker: "src/web/worker.ts" },
    outdir,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify,
    sourcemap,
    logLevel: "warning",
    // v86 requires fs, crypto and perf_hooks behind `typeof require` guards; they never load in a page.
    external: ["fs", "crypto", "perf_hooks", "node:*"],
    metafile: true,
  });
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    if (!file.startsWith("src/")) continue;
    // (A type-only import shows up as an import too: only Node builtins count.)
    const nodeImports = input.imports.filter((i) => i.path.startsWith("node:") || builtinModules.includes(i.path));
    if (nodeImports.length > 0) {
      throw new Error(`web bundle: ${file} imports ${nodeImports.map((i) => i.path).join(", ")}; the page may use no Node API`);
    }
  }
  copyFileSync(join(ROOT, "web/index.html"), join(outdir, "index.html"));
  copyFileSync(join(ROOT, "web/style.css"), join(outdir, "style.css"));
  const require = createRequire(import.meta.url);
  copyFileSync(require.resolve("v86/build/v86.wasm"), join(outdir, "v86.wasm"));
  for (const name of WEB_KERNELS) copyFileSync(join(ROOT, "images", name), join(outdir, "images", name));
  return { outdir, files: listSizes(outdir) };
}

/** Every file under dir (relative path -> bytes). @returns {Record<string, number>} */
function listSizes(dir, prefix = "") {
  /** @type {Record<string, number>} */
  const out = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) Object.assign(out, listSizes(path, `${prefix}${name}/`));
    else out[prefix + name] = statSync(path).size;
  }
  return out;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outdir, files } = await buildWeb({ outdir: resolve(process.argv[2] ?? join(ROOT, "dist/web")) });
  for (const [file, bytes] of Object.entries(files)) console.log(`${String(bytes).padStart(9)}  ${join(outdir, file)}`);
}
