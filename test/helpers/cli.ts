// Test helper for running the CLI as a fresh process: src/cli/main.ts bundled with esbuild, as
// scripts/build.mjs builds dist/cli.js, to a file of the caller's choosing.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll } from "vitest";

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

/**
 * A test file's CLI bundle and scratch folder, `name` telling them apart: made before its tests
 * (vitest beforeAll), removed after them. The object is filled in by then, so tests read its fields.
 */
export function cliFixture(name: string): { readonly cli: string; readonly dir: string } {
  const fixture = { cli: "", dir: "" };
  beforeAll(async () => {
    fixture.cli = await bundleCli(join(ROOT, "node_modules/.cache/buddy86-tests", `${name}-${process.pid}.mjs`));
    fixture.dir = mkdtempSync(join(tmpdir(), `buddy86-${name}-`));
  }, 60_000);
  afterAll(() => {
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
    if (fixture.cli) rmSync(fixture.cli, { force: true });
  });
  return fixture;
}
