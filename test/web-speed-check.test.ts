// The page's speed check (src/web/speed-check.ts) without a browser: the runs alternate CLI path,
// --owners path, page; the best run of each path is compared, and beside it the median runs.
import { describe, expect, it } from "vitest";
import type { BootReport } from "../src/cli/report.js";
import { speedCheck } from "../src/web/speed-check.js";
import type { RunSettings } from "../src/web/live-run.js";

/** A report of a run that ended with EXIT at `ns` per bridge call. */
function report(ns: number): BootReport {
  return { reason: "exit", message: "", bridgeNsPerCall: ns, calls: { ALLOC_PAGES: 6, FREE_PAGES: 4 } } as unknown as BootReport;
}

describe("the speed check", () => {
  it("compares the best runs and the median runs, in the order the runs alternate", async () => {
    const order: string[] = [];
    const cli = [60, 48, 70];
    const owners = [500, 480, 490];
    const page = [120, 100, 110];
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
      3,
    );
    expect(order).toEqual(["cli", "owners", "page", "cli", "owners", "page", "cli", "owners", "page"]);
    expect([result.cliNsPerCall, result.ownersNsPerCall, result.pageNsPerCall]).toEqual([48, 480, 100]);
    expect(result.relativeSpeed).toBeCloseTo(0.48);
    // Medians 60 and 110: the best runs' 48% against 54.5%.
    expect(result.medianRelativeSpeed).toBeCloseTo(60 / 110);
    expect(result.calls).toBe(10);
  });

  it("stops at a run that does not end with EXIT", async () => {
    const failed = { reason: "timeout", message: "too slow", bridgeNsPerCall: null } as unknown as BootReport;
    await expect(speedCheck({ cmdline: "" } as RunSettings, async () => failed, async () => report(1), 1)).rejects.toThrow("the CLI-path run did not end with EXIT (timeout: too slow)");
  });
});
