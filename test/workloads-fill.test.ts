// The fill workload (order-0 GFP_HIGHMEM pages until ENOMEM, write each, free all) at every RAM
// size, judged from the host: every managed frame owned at once, each zone reached, a single
// ENOMEM, everything back. And the guest's page stamps must catch memory changed behind its back.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import type { BridgeObserver, HypercallBridge } from "../src/machine/index.js";
import { GUEST_TIMEOUT_MS, GiB, MiB, RAM_SIZES, bootGuest, field, judge, summaryLine, transcript } from "./workload-fixtures.js";

describe("workload fill", () => {
  it.each(RAM_SIZES)("passes at $name", async ({ bytes }) => {
    const { r, ledger } = await bootGuest("workload=fill seed=3", bytes);
    judge(r, ledger);
    const managed = r.allocator!.managedPageCount;
    // Every managed frame once, the ENOMEM that ends the fill, and the largest block at the end.
    expect(r.counters.calls.ALLOC_PAGES).toBe(managed + 2);
    expect(r.counters.statuses.ENOMEM).toBe(1);
    expect(ledger.peakFrames, "frames owned at once").toBe(managed);
    const line = summaryLine(r, "fill");
    expect(line, transcript(r)).toMatch(/^fill: PASS /);
    expect(field(line, "pages")).toBe(managed);
    expect(ledger.blocksPerZone[0], "DMA blocks").toBeGreaterThan(0);
    expect(ledger.blocksPerZone[1] > 0, "Normal blocks").toBe(bytes > 16 * MiB);
    expect(ledger.blocksPerZone[2] > 0, "HighMem blocks").toBe(bytes >= GiB);
  }, GUEST_TIMEOUT_MS);

  it("exits 3 naming the address when a page it stamped changes behind its back", async () => {
    // After the 100th page is handed out, the host overwrites a stamp word (word 16) of the 50th.
    let bridge: HypercallBridge | null = null;
    const pages: number[] = [];
    let target = -1;
    const corrupter: BridgeObserver = {
      attach(b) {
        bridge = b;
      },
      onCall(_seq, cmd, _a0, _a1, _a2, result, status) {
        if (cmd !== Cmd.ALLOC_PAGES || status !== Status.OK || pages.length >= 100) return;
        pages.push(result >>> 0);
        if (pages.length === 100) {
          target = pages[49]! + 64;
          bridge!.guestRam[target] ^= 0xff;
        }
      },
    };
    const { r } = await bootGuest("workload=fill seed=3", 16 * MiB, corrupter);
    expect(r.exitCode, transcript(r)).toBe(3);
    expect(r.guestLog).toContain(`corruption at 0x${target.toString(16).padStart(8, "0")}`);
  }, GUEST_TIMEOUT_MS);
});
