// The demo workload (the default: every workload in turn between MARK("phase:NAME") labels) at
// every RAM size, judged from the host as a whole and phase by phase: each phase MARKed, in order,
// and reported PASS by the guest.

import { describe, expect, it } from "vitest";
import { GUEST_TIMEOUT_MS, RAM_SIZES, bootGuest, judge, summaryLine, transcript } from "./workload-fixtures.js";

const PHASES = ["churn", "fill", "random", "pagetable", "contig", "batch"];

describe("workload demo", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    // No workload= on the cmdline: demo is the default.
    const { r, ledger } = await bootGuest("ops=500", bytes);
    judge(r, ledger);
    const phases = r.marks.map((m) => m.label).filter((l) => l.startsWith("phase:")).map((l) => l.slice("phase:".length));
    expect(phases[0]).toBe("demo");
    // The workloads this test knows, in table order (a phase added later may sit among them).
    expect(phases.filter((p) => PHASES.includes(p))).toEqual(PHASES);
    for (const phase of phases.slice(1)) expect(summaryLine(r, phase), transcript(r)).toMatch(new RegExp(`^${phase}: PASS `));
    expect(summaryLine(r, "demo")).toBe(`demo: PASS ${phases.length - 1} phases, 0 failed`);
    expect(r.counters.totalRecords, "BATCH records").toBeGreaterThan(0);
    expect(r.counters.calls.ALLOC_CONTIG, "contig ranges").toBeGreaterThan(0);
  }, GUEST_TIMEOUT_MS);
});
