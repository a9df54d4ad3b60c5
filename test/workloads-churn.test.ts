// The churn workload (ops x get_free_page; free_page) at every RAM size, judged from the host:
// exactly ops allocations and ops frees, one page owned at a time, every one back at EXIT.

import { describe, expect, it } from "vitest";
import { GUEST_TIMEOUT_MS, RAM_SIZES, bootGuest, judge, summaryLine } from "./workload-fixtures.js";

const OPS = 20_000;

describe("workload churn", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const { r, ledger } = await bootGuest(`workload=churn ops=${OPS} seed=7`, bytes);
    judge(r, ledger);
    expect(r.counters.calls.ALLOC_PAGES).toBe(OPS);
    expect(r.counters.calls.FREE_PAGES).toBe(OPS);
    expect(ledger.peakFrames, "pages owned at once").toBe(1);
    expect(summaryLine(r, "churn")).toBe(`churn: PASS ops=${OPS} pairs=${OPS}`);
    expect(r.marks.map((m) => m.label)).toEqual(["phase:churn"]);
  }, GUEST_TIMEOUT_MS);
});
