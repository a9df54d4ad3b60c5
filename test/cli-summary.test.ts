// The CLI's human summary (src/cli/report.ts formatSummary): its /proc/buddyinfo is the allocator's
// text byte for byte, each line's trailing "%6lu " space included, and its counters are the run's.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildReport, formatSummary } from "../src/cli/report.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { runMachine } from "../src/machine/index.js";
import { MiB, transcript, v86Wasm } from "./workload-fixtures.js";

const kernel = new Uint8Array(readFileSync(new URL("../images/minimal-kernel.elf", import.meta.url)));

describe("the human summary", () => {
  it("prints /proc/buddyinfo exactly as the allocator's text, trailing spaces kept", async () => {
    const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * MiB, wasmModule: await v86Wasm() });
    expect(r.exitCode, transcript(r)).toBe(0);
    const report = buildReport(r);
    const lines = formatSummary(report).split("\n");
    const at = lines.indexOf("/proc/buddyinfo:");
    const want = report.buddyinfo!.split("\n").slice(0, -1);
    expect(want.length).toBeGreaterThan(0);
    expect(want.every((line) => line.endsWith(" "))).toBe(true);
    expect(lines.slice(at + 1, at + 1 + want.length)).toEqual(want);
    expect(lines[at + 1 + want.length]).toBe(`free frames: ${report.freePages} of ${report.managedPages} managed (max order ${report.maxOrder})`);
    expect(lines).toContain("calls:    HELLO 1, MEMMAP 1, ALLOC_PAGES 1, FREE_PAGES 1, EXIT 1");
  });
});
