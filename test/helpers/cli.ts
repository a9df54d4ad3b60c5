// Test helper for running the CLI as a fresh process: src/cli/main.ts bundled with esbuild, as
// scripts/build.mjs builds dist/cli.js, to a file of the caller's choosing.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { build } from "esbuild";

const ROOT = join(import.meta.dirname, "../..");

/**
 * Bundles the CLI to `outfile` and returns it. Keep it inside the project (node_modules/.cache or
 * test-results): the bundle's external packages resolve from the project's node_modules.
 */
export async function bundleCli(outfile: string): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({ entryPoints: [join(ROOT, "src/cli/main.ts")], outfile, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "warning" });
  return outfile;
}
