// maxOrder at its extremes: 0 (a plain frame list with buddy bookkeeping) and 18 (1 GiB blocks).
import { describe, expect, it } from "vitest";
import { BuddyError, GFP } from "../src/mem/index.js";
import { freeBlocks, makeBuddy, MiB } from "./helpers/mem.js";

describe("maxOrder 0 and 18", () => {
  it("maxOrder 0 hands out single frames only and never merges", () => {
    const buddy = makeBuddy(4 * MiB, { maxOrder: 0 });
    expect(freeBlocks(buddy)).toEqual([1023]);
    expect(() => buddy.allocPages(1)).toThrow(BuddyError);
    const a = buddy.allocPages(0);
    const b = buddy.allocPages(0);
    buddy.freePages(a, 0);
    buddy.freePages(b, 0);
    expect(freeBlocks(buddy)).toEqual([1023]);
    expect(buddy.buddyinfo()).toBe("Node 0, zone      DMA   1023 \n");
    buddy.checkInvariants();
  });

  it("maxOrder 18 serves a 1 GiB block and rebuilds it from its frames", () => {
    const buddy = makeBuddy(2048 * MiB - 128 * 1024, { maxOrder: 18 });
    const before = buddy.buddyinfo();
    // [1 GiB, 2 GiB) is not whole (the last 128 KiB are missing): no order-18 block exists.
    expect(buddy.freeBlockCount(18)).toBe(0);
    const big = makeBuddy(3072 * MiB, { maxOrder: 18 });
    expect(big.freeBlockCount(18)).toBe(2); // [1, 2) GiB and [2, 3) GiB in HighMem
    const a = big.allocPages(18, GFP.HIGHMEM);
    expect(a).toBe(1024 * MiB);
    big.freePages(a, 18);
    expect(big.freeBlockCount(18)).toBe(2);
    expect(buddy.buddyinfo()).toBe(before);
    big.checkInvariants();
  });

  it("rejects maxOrder outside 0..18", () => {
    expect(() => makeBuddy(4 * MiB, { maxOrder: 19 })).toThrow(/maxOrder 19/);
    expect(() => makeBuddy(4 * MiB, { maxOrder: -1 })).toThrow(BuddyError);
    expect(() => makeBuddy(4 * MiB, { maxOrder: 1.5 })).toThrow(BuddyError);
  });
});
