// The batch workload (churn and random through BATCH, 64 records per call) and batchchurn (the
// churn half alone, the loop `npm run bench:bridge` times) at every RAM size, judged from the
// host: every record counted, only OK and (for random) ENOMEM answered, each batched block owned
// by the guest and back at EXIT.

import { describe, expect, it } from "vitest";
import { GUEST_TIMEOUT_MS, RAM_SIZES, bootGuest, field, judge, summaryLine, transcript } from "./workload-fixtures.js";

const OPS = 10_000;
const RECORDS_PER_CALL = 64;

describe("workload batch", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const { r, ledger } = await bootGuest(`workload=batch ops=${OPS} seed=4`, bytes);
    judge(r, ledger);
    const line = summaryLine(r, "batch");
    expect(line, transcript(r)).toMatch(/^batch: PASS /);
    const c = r.counters;
    expect(c.records.ALLOC_PAGES).toBe(c.records.FREE_PAGES + field(line, "enomem"));
    expect(c.totalRecords).toBe(c.records.ALLOC_PAGES + c.records.FREE_PAGES);
    expect(c.totalRecords / c.calls.BATCH, "records per call").toBeGreaterThan(RECORDS_PER_CALL / 2);
    expect(c.statuses.OK + c.statuses.ENOMEM).toBe(c.totalCalls + c.totalRecords);
    // Outside BATCH: one ALLOC_PAGES for the record page, one ALLOC_CONTIG for random's live set.
    expect(c.calls.ALLOC_PAGES).toBe(1);
    expect(c.calls.ALLOC_CONTIG).toBe(1);
    expect(ledger.ordersSeen.size, "orders through BATCH").toBeGreaterThanOrEqual(8);
  }, GUEST_TIMEOUT_MS);
});

describe("workload batchchurn", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const { r, ledger } = await bootGuest(`workload=batchchurn ops=${OPS}`, bytes);
    judge(r, ledger);
    expect(summaryLine(r, "batchchurn"), transcript(r)).toMatch(/^batchchurn: PASS /);
    // 32 allocations per call, their frees in the next call: ops/32 calls plus the last frees.
    expect(r.counters.records.ALLOC_PAGES).toBe(OPS);
    expect(r.counters.records.FREE_PAGES).toBe(OPS);
    expect(r.counters.calls.BATCH).toBe(Math.ceil(OPS / 32) + 1);
    expect(ledger.peakFrames, "record page + 32 held").toBe(33);
  }, GUEST_TIMEOUT_MS);
});
