// The page's speed check (src/web/speed-check.ts) without a browser: after an unmeasured run of the CLI
// path and of the page, per round a CLI-path run and a page run back to back (CLI first in even
// rounds), then the --owners run; the figure is the median of the pairs' ratios, and beside it the
// best runs' and the median runs' ratios.
import { describe, expect, it } from "vitest";
import type { BootReport } from "../src/cli/report.js";
import { speedCheck } from "../src/web/speed-check.js";
import type { RunSettings } from "../src/web/live-run.js";

/** A report of a run that ended with EXIT at `ns` per bridge call. */
function report(ns: number): BootReport {
  return { reason: "exit", message: "", bridgeNsPerCall: ns, calls: { ALLOC_PAGES: 6, FREE_PAGES: 4 } } as unknown as BootReport;
}

describe("the speed check", () => {
  it("pairs each CLI-path run with the page run beside it, in turns, and compares pairs, best runs and median runs", async () => {
    const order: string[] = [];
    // The machine slows in round 1: its pair is slow on both sides, and no best run comes from it.
    // The first run of each is the unmeasured warm-up.
    const cli = [400, 60, 96, 48, 70];
    const owners = [500, 480, 490, 510];
    const page = [30, 100, 240, 110, 120];
    const settings = { cmdline: "workload=churn" } as RunSettings;
    const result = await speedCheck(
      settings,
      async (_s, observed) => {
        order.push(observed ? "owners" : "cli");
        return report(observed ? owners.shift()! : cli.shift()!);
      },
      async () => {
        order.push("page");
        return report(page.shift()!);
      },
      4,
    );
    expect(order).toEqual(["cli", "page", "cli", "page", "owners", "page", "cli", "owners", "cli", "page", "owners", "page", "cli", "owners"]);
    expect([result.cliRuns, result.pageRuns]).toEqual([[60, 96, 48, 70], [100, 240, 110, 120]]);
    expect([result.cliNsPerCall, result.ownersNsPerCall, result.pageNsPerCall]).toEqual([48, 480, 100]);
    // Pairs 0.6, 0.4, 0.436, 0.583: the upper middle one. Best runs 48 / 100; medians 70 / 120.
    expect(result.pairedRelativeSpeed).toBeCloseTo(70 / 120);
    expect(result.relativeSpeed).toBeCloseTo(0.48);
    expect(result.medianRelativeSpeed).toBeCloseTo(70 / 120);
    expect(result.calls).toBe(10);
  });

  it("takes the median pair, not the ratio of medians", async () => {
    const cli = [1, 50, 100, 80];
    const page = [1, 125, 150, 100];
    const result = await speedCheck({ cmdline: "" } as RunSettings, async (_s, observed) => report(observed ? 500 : cli.shift()!), async () => report(page.shift()!), 3);
    // Pairs 0.4, 0.667, 0.8; medians 80 / 125 = 0.64.
    expect(result.pairedRelativeSpeed).toBeCloseTo(100 / 150);
    expect(result.medianRelativeSpeed).toBeCloseTo(80 / 125);
  });

  it("stops at a run that does not end with EXIT", async () => {
    const failed = { reason: "timeout", message: "too slow", bridgeNsPerCall: null } as unknown as BootReport;
    await expect(speedCheck({ cmdline: "" } as RunSettings, async () => failed, async () => report(1), 1)).rejects.toThrow("the CLI-path run did not end with EXIT (timeout: too slow)");
  });
});
