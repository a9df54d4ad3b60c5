// The port fuzzer (src/bench/fuzz.ts) for 100,000 calls with a fixed seed: random registers and
// random guest memory against the reference model of docs/protocol.md, with every check, full
// invariant walk and model agreement included, after every call. A failure names fast-check's seed and
// path; `npm run fuzz -- --calls N --seed S` runs longer campaigns. The fuzzer runs bundled by
// esbuild, as `npm run fuzz` runs it: through vitest's module transform, where every imported
// constant is a property load, its full checks took 124 s instead of 27.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { runFuzz as RunFuzz } from "../src/bench/fuzz.js";
import { bundleForNode } from "./helpers/cli.js";

const CALLS = 100_000;
const SEED = 0x6b86;
const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "node_modules/.cache/buddy86-tests", `fuzz-${process.pid}.mjs`);

afterAll(() => rmSync(OUT, { force: true }));

describe("port fuzzing", () => {
  it(`${CALLS} calls, seed ${SEED}: every answer follows the ABI`, async () => {
    await bundleForNode([join(ROOT, "src/bench/fuzz.ts")], { outfile: OUT });
    const { runFuzz } = (await import(pathToFileURL(OUT).href)) as { runFuzz: typeof RunFuzz };
    let result;
    try {
      result = runFuzz({ calls: CALLS, seed: SEED });
    } catch (e) {
      const cause = (e as Error).cause instanceof Error ? `\ncause: ${((e as Error).cause as Error).message}` : "";
      throw new Error(`${(e as Error).message.split("\n").slice(0, 2).join("\n")}${cause}`);
    }
    expect(result.calls).toBeGreaterThanOrEqual(CALLS);
    // The stream reached every status, several allocator configurations and the full checks.
    for (let status = 0; status <= 9; status++) expect(result.statuses[status], `status ${status}`).toBeGreaterThan(0);
    expect(result.runs).toBeGreaterThan(20);
    expect(result.fullChecks).toBeGreaterThanOrEqual(CALLS);
    expect(result.records).toBeGreaterThan(10_000);
    expect(result.poisonReports).toBeGreaterThan(0);
  }, 240_000);
});
