// The port fuzzer (src/bench/fuzz.ts) for 100,000 calls with a fixed seed: random registers and
// random guest memory against the reference model of docs/protocol.md, cheap checks after every
// call and full invariant and model checks every 50 calls. A failure names fast-check's seed and
// path; `npm run fuzz -- --calls N --seed S` runs longer campaigns.
import { describe, expect, it } from "vitest";
import { runFuzz } from "../src/bench/fuzz.js";

const CALLS = 100_000;
const SEED = 0x6b86;

describe("port fuzzing", () => {
  it(`${CALLS} calls, seed ${SEED}: every answer follows the ABI`, () => {
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
    expect(result.fullChecks).toBeGreaterThan(CALLS / 50);
    expect(result.records).toBeGreaterThan(10_000);
    expect(result.poisonReports).toBeGreaterThan(0);
  }, 240_000);
});
