// maxOrder at its extremes: 0 (a plain frame list with buddy bookkeeping) and 18 (1 GiB blocks).
import { describe, expect, it } from "vitest";
import { BuddyAllocator, BuddyError, GFP, MemoryMap } from "../src/mem/index.js";
import { freeBlocks, makeBuddy, MiB, shuffleInPlace } from "./helpers/mem.js";

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

  it("maxOrder 18 serves a 1 GiB block only where one is whole", () => {
    // [1 GiB, 2 GiB) is not whole (the last 128 KiB are missing): no order-18 block exists.
    expect(makeBuddy(2048 * MiB - 128 * 1024, { maxOrder: 18 }).freeBlockCount(18)).toBe(0);
    const big = makeBuddy(3072 * MiB, { maxOrder: 18 });
    const before = big.buddyinfo();
    expect(big.freeBlockCount(18)).toBe(2); // [1, 2) GiB and [2, 3) GiB in HighMem
    const a = big.allocPages(18, GFP.HIGHMEM);
    expect(a).toBe(1024 * MiB);
    expect(big.freeBlockCount(18)).toBe(1);
    big.freePages(a, 18);
    expect(big.freeBlockCount(18)).toBe(2);
    expect(big.buddyinfo()).toBe(before);
    big.checkInvariants();
  });

  it("maxOrder 18 rebuilds a 1 GiB block from its 262,144 frames freed in any order", () => {
    // One whole order-18 block and nothing else: [1 GiB, 2 GiB), all HighMem.
    const map = new MemoryMap();
    map.addUsable(1024 * MiB, 1024 * MiB);
    const buddy = new BuddyAllocator(map, { maxOrder: 18, pcp: false });
    const before = buddy.buddyinfo();
    expect(freeBlocks(buddy)).toEqual([...Array(18).fill(0), 1]);
    const frames = new Uint32Array(2 ** 18);
    for (let i = 0; i < frames.length; i++) frames[i] = buddy.allocPages(0, GFP.HIGHMEM);
    expect(buddy.freePageCount).toBe(0);
    expect(buddy.allocPages(0, GFP.HIGHMEM)).toBe(0);
    // A fixed shuffle: every level of merges meets its buddies out of order.
    shuffleInPlace(frames);
    for (let i = 0; i < frames.length; i++) {
      buddy.freePages(frames[i]!, 0);
      // Halfway, the merged blocks are all below order 18.
      if (i === frames.length / 2) expect(buddy.freeBlockCount(18)).toBe(0);
    }
    expect(freeBlocks(buddy)).toEqual([...Array(18).fill(0), 1]);
    expect(buddy.buddyinfo()).toBe(before);
    buddy.checkInvariants();
  });

  it("rejects maxOrder outside 0..18", () => {
    expect(() => makeBuddy(4 * MiB, { maxOrder: 19 })).toThrow(/maxOrder 19/);
    expect(() => makeBuddy(4 * MiB, { maxOrder: -1 })).toThrow(BuddyError);
    expect(() => makeBuddy(4 * MiB, { maxOrder: 1.5 })).toThrow(BuddyError);
  });
});
