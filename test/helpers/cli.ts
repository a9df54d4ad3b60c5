// Test helper for running the CLI as a fresh process: src/cli/main.ts bundled with esbuild, as
// scripts/build.mjs builds dist/cli.js, to a file of the caller's choosing.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build, type BuildOptions } from "esbuild";
import { afterAll, beforeAll } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

/**
 * Bundles entry points for Node as scripts/build.mjs does (ESM, node20, packages external) to `out`:
 * one file (outfile) or a folder (outdir, for several entries). Keep it inside the project
 * (node_modules/.cache or test-results): the bundle's external packages resolve from the project's
 * node_modules. `extra` adds esbuild options (minifySyntax, as the build has for the benchmarks).
 */
export async function bundleForNode(entryPoints: string[] | Record<string, string>, out: { outfile: string } | { outdir: string }, extra: BuildOptions = {}): Promise<void> {
  mkdirSync("outfile" in out ? dirname(out.outfile) : out.outdir, { recursive: true });
  await build({ entryPoints, ...out, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "warning", ...extra });
}

/** Bundles the CLI to `outfile` and returns it (see bundleForNode). */
export async function bundleCli(outfile: string): Promise<string> {
  await bundleForNode([join(ROOT, "src/cli/main.ts")], { outfile });
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
