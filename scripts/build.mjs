// Builds dist/: esbuild bundles the package root, the CLI, the benchmarks and a browser bundle of the
// machine (proving the machine and bridge need no Node API); tsc then emits the .d.ts files.
import { build } from "esbuild";
import { existsSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";

rmSync("dist", { recursive: true, force: true });

const nodeEntries = {
  index: "src/index.ts",
  cli: "src/cli/main.ts",
  "bench/bench": "src/bench/bench.ts",
  "bench/bench-bridge": "src/bench/bench-bridge.ts",
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
  logLevel: "warning",
  banner: { js: "" },
});

if (existsSync("src/machine/browser-entry.ts")) {
  await build({
    entryPoints: { "browser/machine": "src/machine/browser-entry.ts" },
    outdir: "dist",
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    sourcemap: true,
    logLevel: "warning",
    external: ["node:*"],
  });
}

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
