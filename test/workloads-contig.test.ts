// The contig workload (ALLOC_CONTIG alignments and long runs, GFP_DMA, GFP_HIGHMEM, GFP_ZERO) at
// every RAM size, judged from the host: each range aligned as asked, inside one zone and the zones
// its GFP flags allow, zeroed blocks zero when handed out, runs longer than a max-order block, and
// HighMem requests served from HighMem once RAM reaches 896 MiB.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import type { BridgeObserver } from "../src/machine/index.js";
import { GUEST_TIMEOUT_MS, RAM_SIZES, bootGuest, judge, summaryLine, transcript, zoneOf } from "./workload-fixtures.js";

const GFP_DMA = 0x1;
const GFP_HIGHMEM = 0x2;
const MAX_ORDER_PAGES = 1024;

/** Every ALLOC_CONTIG the host answered OK: pages, alignment in frames, gfp, address. */
class ContigRanges implements BridgeObserver {
  readonly ranges: { pages: number; align: number; gfp: number; addr: number }[] = [];
  onCall(_seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number, status: number): void {
    if (cmd === Cmd.ALLOC_CONTIG && status === Status.OK) this.ranges.push({ pages: arg0, align: arg1, gfp: arg2, addr: result >>> 0 });
  }
}

describe("workload contig", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const contig = new ContigRanges();
    const { r, ledger } = await bootGuest("workload=contig seed=2", bytes, contig);
    judge(r, ledger);
    expect(summaryLine(r, "contig"), transcript(r)).toMatch(/^contig: PASS /);
    expect(r.counters.calls.ALLOC_CONTIG).toBe(r.counters.calls.FREE_CONTIG);

    const ranges = contig.ranges;
    for (const x of ranges) expect(x.addr % ((x.align || 1) * 4096), `range at 0x${x.addr.toString(16)} aligned to ${x.align}`).toBe(0);
    // Alignments up to twice a max-order block, and a run of a max-order block + 3 frames.
    expect(Math.max(...ranges.map((x) => x.align))).toBe(2 * MAX_ORDER_PAGES);
    expect(ranges.filter((x) => x.pages === MAX_ORDER_PAGES + 3).length).toBe(2);
    expect(ranges.some((x) => x.gfp === GFP_DMA)).toBe(true);
    // GFP_ZERO blocks (pages and ranges) were zero when the host handed them out.
    expect(ledger.zeroChecked).toBeGreaterThanOrEqual(3);

    const highmem = ranges.filter((x) => x.gfp === GFP_HIGHMEM);
    if (bytes > 896 * 2 ** 20) {
      expect(highmem.length).toBeGreaterThan(0);
      for (const x of highmem) expect(zoneOf(x.addr), `GFP_HIGHMEM range at 0x${x.addr.toString(16)}`).toBe(2);
    } else {
      expect(ledger.blocksPerZone[2]).toBe(0);
    }
  }, GUEST_TIMEOUT_MS);
});
