// Builds dist/: esbuild bundles the package root, the CLI, the benchmarks and a browser bundle of the
// machine (proving the machine and bridge need no Node API); tsc then emits the .d.ts files.
import { build } from "esbuild";
import { existsSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { builtinModules } from "node:module";

rmSync("dist", { recursive: true, force: true });

const nodeEntries = {
  index: "src/index.ts",
  cli: "src/cli/main.ts",
  "bench/bench": "src/bench/bench.ts",
  // Its workloads, a file of their own: bench.js imports one instance of it per page source.
  "bench/bench-loops": "src/bench/bench-loops.ts",
  "bench/bench-bridge": "src/bench/bench-bridge.ts",
  "bench/bench-observe": "src/bench/bench-observe.ts",
  "bench/bench-live": "src/bench/bench-live.ts",
};
const present = Object.fromEntries(Object.entries(nodeEntries).filter(([, file]) => existsSync(file)));

await build({
  entryPoints: present,
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  // minifySyntax folds the allocator's constants (tags, strides, page size) into the hot paths, where
  // V8 would otherwise load and check a module variable on every use.
  minifySyntax: true,
  logLevel: "warning",
  banner: { js: "" },
});

// The browser bundle. v86 itself requires fs, crypto and perf_hooks behind `typeof require` guards, so
// those stay external; our own modules may import no Node API at all, and the build fails if one does.
const browser = await build({
  entryPoints: { "browser/machine": "src/machine/browser-entry.ts" },
  outdir: "dist",
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  sourcemap: true,
  minifySyntax: true,
  logLevel: "warning",
  external: ["fs", "crypto", "perf_hooks", "node:*"],
  metafile: true,
});
for (const [file, input] of Object.entries(browser.metafile.inputs)) {
  if (!file.startsWith("src/")) continue;
  const nodeImports = input.imports.filter((i) => i.path.startsWith("node:") || builtinModules.includes(i.path));
  if (nodeImports.length > 0) {
    throw new Error(`browser bundle: ${file} imports ${nodeImports.map((i) => i.path).join(", ")}; keep Node APIs in src/host/node-platform.ts`);
  }
}

// The web page (docs/web.md) as a static site: dist/web/ can be served from anywhere.
const { buildWeb } = await import("./build-web.mjs");
await buildWeb({ outdir: "dist/web" });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
